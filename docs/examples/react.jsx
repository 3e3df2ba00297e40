// A React hook and component for one job's live progress.
import { useEffect, useState } from 'react';

const API = 'http://localhost:8000/api/v1';

export function useJobProgress(jobId) {
  const [update, setUpdate] = useState({ status: 'waiting', progress: 0 });

  useEffect(() => {
    if (!jobId) return undefined;
    let source;
    let delay = 1000;
    let timer;
    let done = false;
    let lastEventId = '';

    const refetch = async () => {
      const job = await fetch(`${API}/jobs/${encodeURIComponent(jobId)}`).then((r) => r.json());
      setUpdate({ status: job.state, progress: job.progress, stage: job.stage, result: job.result, error: job.error });
    };

    const open = () => {
      // Subscribed at connect: nothing is missed between connecting and subscribing. A
      // reopened stream passes the last id seen, so the gateway resumes it all the same.
      const params = new URLSearchParams({ jobs: jobId });
      if (lastEventId) params.set('lastEventId', lastEventId);
      source = new EventSource(`${API}/sse/connect?${params}`);
      source.addEventListener('connected', (e) => {
        delay = 1000;
        if (lastEventId && !JSON.parse(e.data).resumed) refetch(); // session expired: catch up
      });
      source.addEventListener('job_update', (e) => {
        if (e.lastEventId) lastEventId = e.lastEventId;
        const next = JSON.parse(e.data);
        setUpdate(next);
        if (next.status === 'completed' || next.status === 'failed') {
          done = true;
          source.close();
        }
        // A completed event carries a bounded summary; the whole analysis is at resultUrl.
        if (next.status === 'completed' && next.resultUrl) {
          fetch(new URL(next.resultUrl, API))
            .then((r) => r.json())
            .then((body) => setUpdate({ ...next, summary: next.result, result: body.result }))
            .catch(() => {});
        }
      });
      source.addEventListener('resync', refetch);
      // EventSource resumes by itself (Last-Event-ID); reopen only if it gave up.
      source.onerror = () => {
        if (!done && source.readyState === EventSource.CLOSED) {
          timer = setTimeout(open, delay);
          delay = Math.min(delay * 2, 30000);
        }
      };
    };

    open();
    return () => {
      done = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [jobId]);

  return update;
}

export function JobProgress({ jobId }) {
  const { status, progress, stage, message, error } = useJobProgress(jobId);
  return (
    <div>
      <div className="progress-bar" role="progressbar" aria-valuenow={progress} aria-valuemin={0} aria-valuemax={100}>
        <div style={{ width: `${progress}%` }}>{progress}%</div>
      </div>
      <p>{status === 'failed' ? error : message || stage || status}</p>
    </div>
  );
}
