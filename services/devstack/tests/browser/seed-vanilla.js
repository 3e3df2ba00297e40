// 1. Connect to SSE
const eventSource = new EventSource('http://localhost:8000/api/v1/sse/connect');

// 2. Listen for connection event
eventSource.addEventListener('connected', (e) => {
    const data = JSON.parse(e.data);
    const connectionId = data.connectionId;
    console.log('Connected:', connectionId);
    
    // 3. Subscribe to job updates
    subscribeToJob(connectionId, 'job-123');
});

// 4. Listen for job updates
eventSource.addEventListener('job_update', (e) => {
    const data = JSON.parse(e.data);
    console.log('Job Update:', data);
    
    // Update UI with progress
    updateProgressBar(data.progress);
    updateStatusMessage(data.message);
});

// 5. Listen for heartbeat
eventSource.addEventListener('heartbeat', (e) => {
    console.log('Heartbeat received');
});

// 6. Handle errors
eventSource.onerror = (error) => {
    console.error('SSE error:', error);
    eventSource.close();
};

// 7. Subscribe to job
async function subscribeToJob(connectionId, jobId) {
    await fetch(`http://localhost:8000/api/v1/sse/${connectionId}/subscribe/job/${jobId}`, {
        method: 'POST'
    });
}

// 8. Cleanup on page unload
window.addEventListener('beforeunload', () => {
    eventSource.close();
});
