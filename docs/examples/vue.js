// A Vue 3 component (options API) for one job's live progress.
const API = 'http://localhost:8000/api/v1';

export default {
  props: { jobId: { type: String, required: true } },
  data() {
    return { progress: 0, status: 'waiting', message: '', source: null, delay: 1000, done: false, timer: null, lastEventId: '' };
  },
  mounted() {
    this.open();
  },
  beforeUnmount() {
    this.done = true;
    clearTimeout(this.timer);
    this.source?.close();
  },
  methods: {
    open() {
      // Subscribed at connect; EventSource resumes by itself with Last-Event-ID, and a
      // reopened stream passes the last id seen as ?lastEventId=.
      const params = new URLSearchParams({ jobs: this.jobId });
      if (this.lastEventId) params.set('lastEventId', this.lastEventId);
      this.source = new EventSource(`${API}/sse/connect?${params}`);
      this.source.addEventListener('connected', (e) => {
        this.delay = 1000;
        if (this.lastEventId && !JSON.parse(e.data).resumed) this.refetch(); // session expired
      });
      this.source.addEventListener('job_update', (e) => {
        if (e.lastEventId) this.lastEventId = e.lastEventId;
        const update = JSON.parse(e.data);
        this.progress = update.progress;
        this.status = update.status;
        this.message = update.status === 'failed' ? update.error : update.message;
        // A completed event carries a bounded summary (score, contact, top skills, counts);
        // GET update.resultUrl for the whole analysis.
        if (update.status === 'completed' && update.result) {
          this.message = `${update.result.contact?.name || 'Candidate'}: ${update.result.seniority || ''}`;
        }
        if (update.status === 'completed' || update.status === 'failed') {
          this.done = true;
          this.source.close();
        }
      });
      this.source.addEventListener('resync', () => this.refetch());
      this.source.onerror = () => {
        if (!this.done && this.source.readyState === EventSource.CLOSED) {
          this.timer = setTimeout(() => this.open(), this.delay);
          this.delay = Math.min(this.delay * 2, 30000);
        }
      };
    },
    async refetch() {
      const job = await fetch(`${API}/jobs/${encodeURIComponent(this.jobId)}`).then((r) => r.json());
      this.progress = job.progress;
      this.status = job.state;
    },
  },
  template: `
    <div>
      <div class="progress-bar"><div :style="{ width: progress + '%' }">{{ progress }}%</div></div>
      <p>{{ message || status }}</p>
    </div>`,
};
