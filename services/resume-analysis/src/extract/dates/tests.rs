//! Unit tests of the date ranges.
use super::*;

fn ym(year: i32, month: u32) -> YearMonth {
    YearMonth::new(year, month)
}

#[test]
fn finds_common_forms() {
    let text = "Acme — Jan 2019 – Present\nWidgets 03/2015 - 12/2018\nStartup 2012-2014\nMay 2020 to Current\nSept. 2010 — Feb. 2011\n2016-03 to 2016-09";
    let ranges = find_ranges(text);
    let got: Vec<(YearMonth, Option<YearMonth>)> =
        ranges.iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(
        got,
        vec![
            (ym(2019, 1), None),
            (ym(2015, 3), Some(ym(2018, 12))),
            (ym(2012, 1), Some(ym(2014, 1))),
            (ym(2020, 5), None),
            (ym(2010, 9), Some(ym(2011, 2))),
            (ym(2016, 3), Some(ym(2016, 9))),
        ]
    );
}

fn spans(text: &str) -> Vec<(YearMonth, Option<YearMonth>)> {
    find_ranges(text).iter().map(|r| (r.start, r.end)).collect()
}

#[test]
fn forms_from_the_issue() {
    for (text, start, end) in [
        ("Sep. 2023 – Mar. 2024", ym(2023, 9), Some(ym(2024, 3))),
        ("Sep. 2023 \u{ad} Mar. 2024", ym(2023, 9), Some(ym(2024, 3))),
        ("Sep. 2023\u{ad}Mar. 2024", ym(2023, 9), Some(ym(2024, 3))),
        ("09/2023 - 03/2024", ym(2023, 9), Some(ym(2024, 3))),
        ("2021–present", ym(2021, 1), None),
        ("Sept 2023 to date", ym(2023, 9), None),
        ("June 2018 – Till Date", ym(2018, 6), None),
        ("Summer 2012", ym(2012, 6), Some(ym(2012, 8))),
        ("Summer 2012 – Fall 2013", ym(2012, 6), Some(ym(2013, 11))),
        ("2015—2019", ym(2015, 1), Some(ym(2019, 1))),
        ("Jan 2020 -- Ongoing", ym(2020, 1), None),
        ("March 2019 \u{2013} Current", ym(2019, 3), None),
        ("Jun \u{2013} Aug 2019", ym(2019, 6), Some(ym(2019, 8))),
        ("2019/04 \u{2013} 2022/03", ym(2019, 4), Some(ym(2022, 3))),
        (
            "01.04.2016 \u{2013} 30.09.2019",
            ym(2016, 4),
            Some(ym(2019, 9)),
        ),
        ("10.2017 - 02.2020", ym(2017, 10), Some(ym(2020, 2))),
    ] {
        assert_eq!(spans(text), vec![(start, end)], "{text}");
    }
}

#[test]
fn other_languages() {
    for (text, start, end) in [
        ("Okt. 2019 – März 2022", ym(2019, 10), Some(ym(2022, 3))),
        ("seit 03/2021", ym(2021, 3), None),
        ("01/2018 bis heute", ym(2018, 1), None),
        ("janv. 2018 – déc. 2020", ym(2018, 1), Some(ym(2020, 12))),
        ("depuis sept. 2021", ym(2021, 9), None),
        ("févr. 2016 – aujourd'hui", ym(2016, 2), None),
        ("ene. 2017 - actualidad", ym(2017, 1), None),
        ("mar 2016 – atual", ym(2016, 3), None),
        ("gen 2015 - oggi", ym(2015, 1), None),
        ("mei 2019 – heden", ym(2019, 5), None),
    ] {
        assert_eq!(spans(text), vec![(start, end)], "{text}");
    }
}

#[test]
fn a_range_broken_after_its_dash_is_joined() {
    assert_eq!(
        spans("Sep. 2023 –\nMar. 2024 Engineer"),
        vec![(ym(2023, 9), Some(ym(2024, 3)))]
    );
}

#[test]
fn a_range_alone_on_its_line_keeps_the_line_before() {
    let ranges =
        find_ranges("Principal Engineer, Quasar\nJan 2021 – Present (5 yrs)\nAcme 2010 – 2012");
    assert_eq!(
        ranges[0].text,
        "Principal Engineer, Quasar | Jan 2021 – Present (5 yrs)"
    );
    assert_eq!(ranges[1].text, "Acme 2010 – 2012");
    let labelled = find_ranges("Designation: Engineer\nDuration: Jun 2021 – Present · 5 yrs 6 mos");
    assert_eq!(
        labelled[0].text,
        "Designation: Engineer | Duration: Jun 2021 – Present · 5 yrs 6 mos"
    );
}

#[test]
fn several_ranges_on_a_line_in_order() {
    assert_eq!(
        spans("Acme 2015 - 2017, then Beta Jun – Aug 2019"),
        vec![
            (ym(2015, 1), Some(ym(2017, 1))),
            (ym(2019, 6), Some(ym(2019, 8)))
        ]
    );
}

#[test]
fn ignores_non_dates() {
    assert!(find_ranges("Call 555-1234 or 2019 was great").is_empty());
    assert!(find_ranges("2020 - 2015").is_empty(), "end before start");
    assert!(find_ranges("Marketing 2019 - Grows").is_empty());
    assert!(find_ranges("Summer school").is_empty());
}

#[test]
fn overlapping_ranges_count_once() {
    let ranges = find_ranges("2010 - 2014\n2012 - 2016\n2018 - 2019");
    assert_eq!(years_covered(&ranges, ym(2026, 1)), 7.0);
    let present = find_ranges("Jan 2020 - Present");
    assert_eq!(years_covered(&present, ym(2025, 7)), 5.5);
}
