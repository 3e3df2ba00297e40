// Watch one job with the browser's EventSource.
//
// - Subscribe at connect (`?jobs=`), so the first event is never missed.
// - Do not close the EventSource on errors: it reconnects by itself after the server's
//   `retry:` delay and sends `Last-Event-ID`; the gateway resumes the same connection on any
//   pod and replays what was missed.
// - On `resync`, refetch the job's state: events were missed beyond the history kept.
// - If the browser gives up (readyState CLOSED, e.g. after a 503 from a draining pod), open a
//   new EventSource with exponential backoff, passing the last event id as `?lastEventId=`
//   so the gateway still resumes; if it opens a fresh stream instead (`resumed: false`, the
//   session expired), refetch the job's state.

const API = 'http://localhost:8000/api/v1';

export function watchJob(jobId, { onUpdate, onDone }) {
  let source;
  let delay = 1000;
  let lastEventId = '';

  const refetch = async () => {
    const job = await fetch(`${API}/jobs/${encodeURIComponent(jobId)}`).then((r) => r.json());
    onUpdate({ status: job.state, progress: job.progress, stage: job.stage, result: job.result, error: job.error });
  };

  const open = () => {
    const params = new URLSearchParams({ jobs: jobId });
    if (lastEventId) params.set('lastEventId', lastEventId);
    source = new EventSource(`${API}/sse/connect?${params}`);
    source.addEventListener('connected', (e) => {
      delay = 1000;
      if (lastEventId && !JSON.parse(e.data).resumed) refetch();
    });
    source.addEventListener('job_update', (e) => {
      if (e.lastEventId) lastEventId = e.lastEventId;
      const update = JSON.parse(e.data);
      onUpdate(update);
      if (update.status === 'completed') {
        source.close();
        // `result` here is a bounded summary (score, match, seniority, contact, top skills,
        // counts); the whole analysis is at `resultUrl`.
        fetch(new URL(update.resultUrl, API))
          .then((r) => r.json())
          .then((body) => onDone?.({ ...update, result: body.result }))
          .catch(() => onDone?.(update));
      } else if (update.status === 'failed') {
        source.close();
        onDone?.(update); // update.errorCode: document_too_large, parse_timeout, corrupt, …
      }
    });
    source.addEventListener('resync', refetch);
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      }
    };
  };

  open();
  return () => source?.close();
}
