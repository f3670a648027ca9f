namespace VirtualStack.Plugins.Dccp.Endpoint;

/// <summary>
/// Wakes tasks waiting for "something changed" (data, room, state). Waiters re-check their condition after waking.
/// A task is allocated only when someone actually has to wait, never per packet; continuations run asynchronously
/// so that <see cref="Set"/> may be called under the endpoint's lock.
/// </summary>
internal sealed class AsyncSignal
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _waiters;

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _waiters ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiters.Task.WaitAsync(cancellationToken);
        }
    }

    public void Set()
    {
        TaskCompletionSource? waiters;
        lock (_gate)
        {
            waiters = _waiters;
            _waiters = null;
        }

        waiters?.TrySetResult();
    }
}
