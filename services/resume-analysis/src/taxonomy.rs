//! The bundled skill taxonomy (`data/skills.txt`, compiled in and parsed once): each
//! skill's canonical name, category and aliases. A form that is also an everyday word or
//! a common first name ("Go", "R", "Julia", "spark") is *ambiguous*: it only counts in
//! skill lists. The bare name is marked by the `ambiguous` flag, an alias by a leading `~`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// One skill.
#[derive(Debug)]
pub struct Skill {
    pub name: &'static str,
    pub category: &'static str,
    pub aliases: Vec<&'static str>,
    /// The bare name is an everyday word ("Go", "R", "Express").
    pub ambiguous: bool,
    /// Aliases that are everyday words ("spark" for Apache Spark).
    pub ambiguous_aliases: Vec<&'static str>,
}

/// The taxonomy and its lookup table.
pub struct Taxonomy {
    pub skills: Vec<Skill>,
    /// Lower-case form (name or alias) → (skill index, form is the ambiguous bare name).
    pub forms: HashMap<String, (usize, bool)>,
    /// Longest form, in tokens.
    pub max_tokens: usize,
}

static DATA: &str = include_str!("../data/skills.txt");

pub static TAXONOMY: LazyLock<Taxonomy> = LazyLock::new(|| {
    let mut skills = Vec::new();
    for line in DATA
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut fields = line.split('|');
        let name = fields.next().unwrap_or_default().trim();
        let category = fields.next().unwrap_or_default().trim();
        let (ambiguous_aliases, aliases): (Vec<&str>, Vec<&str>) = fields
            .next()
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .partition(|a| a.starts_with('~'));
        let ambiguous_aliases = ambiguous_aliases
            .into_iter()
            .map(|a| a.trim_start_matches('~').trim())
            .collect();
        let ambiguous = fields.next().is_some_and(|f| f.trim() == "ambiguous");
        if !name.is_empty() {
            skills.push(Skill {
                name,
                category,
                aliases,
                ambiguous,
                ambiguous_aliases,
            });
        }
    }
    let mut forms = HashMap::new();
    let mut max_tokens = 1;
    for (index, skill) in skills.iter().enumerate() {
        let name = skill.name.to_lowercase();
        max_tokens = max_tokens.max(name.split_whitespace().count());
        forms.insert(name, (index, skill.ambiguous));
        let aliases = skill.aliases.iter().map(|a| (a, false));
        for (alias, ambiguous) in aliases.chain(skill.ambiguous_aliases.iter().map(|a| (a, true))) {
            let alias = alias.to_lowercase();
            max_tokens = max_tokens.max(alias.split_whitespace().count());
            forms.entry(alias).or_insert((index, ambiguous));
        }
    }
    Taxonomy {
        skills,
        forms,
        max_tokens,
    }
});

impl Taxonomy {
    /// The canonical skill for a name or alias, any case.
    pub fn lookup(&self, text: &str) -> Option<&Skill> {
        let key = text.trim().to_lowercase();
        self.forms.get(&key).map(|(index, _)| &self.skills[*index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn has_over_300_skills_with_unique_forms() {
        let taxonomy = &*TAXONOMY;
        assert!(
            taxonomy.skills.len() >= 300,
            "{} skills",
            taxonomy.skills.len()
        );
        let names: HashSet<String> = taxonomy
            .skills
            .iter()
            .map(|s| s.name.to_lowercase())
            .collect();
        assert_eq!(names.len(), taxonomy.skills.len(), "skill names are unique");
        let mut seen = HashSet::new();
        for skill in &taxonomy.skills {
            let aliases = skill.aliases.iter().chain(&skill.ambiguous_aliases);
            for form in std::iter::once(skill.name).chain(aliases.copied()) {
                assert!(
                    seen.insert(form.to_lowercase()),
                    "form {form:?} is used twice"
                );
            }
            assert!(!skill.category.is_empty(), "{} has a category", skill.name);
        }
        let categories: HashSet<&str> = taxonomy.skills.iter().map(|s| s.category).collect();
        assert!(categories.len() >= 10);
    }

    #[test]
    fn aliases_lead_to_canonical_names() {
        assert_eq!(TAXONOMY.lookup("k8s").map(|s| s.name), Some("Kubernetes"));
        assert_eq!(
            TAXONOMY.lookup("Postgres").map(|s| s.name),
            Some("PostgreSQL")
        );
        assert_eq!(TAXONOMY.lookup("golang").map(|s| s.name), Some("Go"));
        assert!(TAXONOMY.lookup("nope").is_none());
    }
}
