using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace VirtualStack.Host.Pipeline;

/// <summary>
/// One shard's event loop: a dedicated thread that is at once the <see cref="TaskScheduler"/> of the shard's
/// Dataflow blocks and the reader of its TUN queue.
/// </summary>
/// <remarks>
/// On these 2-core machines a Dataflow hop that crosses threads costs a wake-up, about 15 % of throughput
/// (shared/dotnet-design.md (vii)). Running every block of the shard on this one thread makes a hop a queue
/// operation. The thread alternates: run the queued block tasks, then read a batch from the VNIC when the pipeline
/// has room; with nothing to do it sleeps in poll() on the TUN descriptor and an eventfd that other threads
/// signal when they queue work (timers, management commands, completed stack builds).
/// </remarks>
internal sealed unsafe class ShardLoop : TaskScheduler, IDisposable
{
    private const int TasksPerRound = 256;

    private readonly ConcurrentQueue<Task> _tasks = new();
    private readonly ConcurrentQueue<IShardWork> _work = new();
    private readonly Thread _thread;
    private readonly int _wakeFd;
    private IShardSource? _source;
    private volatile bool _stopping;
    private int _sleeping;

    public ShardLoop(string name)
    {
        _wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (_wakeFd < 0)
        {
            throw Native.SystemError.Exception("eventfd", errno);
        }

        _thread = new Thread(Run) { Name = name, IsBackground = true };
    }

    public override int MaximumConcurrencyLevel => 1;

    /// <summary>Times the loop went to sleep in poll().</summary>
    public long Sleeps;

    /// <summary>Sleeps without watching the TUN (no free batch, or the pipeline full): only work from other threads wakes it.</summary>
    public long SleepsBackpressured;

    /// <summary>Sleeps that ended by the poll timeout rather than by an event: a lost wake-up would show here.</summary>
    public long SleepTimeouts;

    /// <summary>
    /// Managed bytes allocated on the loop thread, i.e. by the data path (TUN reads, every block, the stacks' sends),
    /// as of the loop's last round. Process-wide figures also count management answers and timers; this one is what
    /// "allocates nothing per packet" is about.
    /// </summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    private long _allocatedBytes;

    /// <summary>True on the loop's own thread.</summary>
    public bool IsLoopThread => Thread.CurrentThread == _thread;

    public void Start(IShardSource? source)
    {
        _source = source;
        _thread.Start();
    }

    /// <summary>Stops the loop after it has run every task already queued; waits for the thread.</summary>
    public void Stop()
    {
        _stopping = true;
        Wake();
        if (_thread.IsAlive && !IsLoopThread)
        {
            _thread.Join();
        }
    }

    protected override void QueueTask(Task task)
    {
        _tasks.Enqueue(task);
        WakeIfSleeping();
    }

    /// <summary>
    /// Queues a reusable work item (a pipeline block's turn): unlike a <see cref="Task"/>, scheduling it allocates
    /// nothing. The item must not be queued again before it runs.
    /// </summary>
    public void Schedule(IShardWork work)
    {
        _work.Enqueue(work);
        WakeIfSleeping();
    }

    private void WakeIfSleeping()
    {
        // Enqueue is a full fence (interlocked), so this read cannot move above it: either the loop sees the work
        // before it sleeps, or we see it sleeping and wake it.
        if (Volatile.Read(ref _sleeping) == 1 && !IsLoopThread)
        {
            Wake();
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        IsLoopThread && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _tasks.ToArray();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Run()
    {
        // Pipeline blocks run as work items, not as tasks on this scheduler, so TaskScheduler.Current is not the
        // loop inside a stage. An await in a stage (a stack build that completes later) must still resume here,
        // where the flow table and the stack slots live: the loop is also the thread's synchronization context.
        SynchronizationContext.SetSynchronizationContext(new LoopContext(this));
        while (!_stopping)
        {
            bool worked = RunTasks();
            if (_source is not null && _source.Pump())
            {
                worked = true;
            }

            // Cheap (the thread's allocation context), so every round: a loop that never sleeps still reports.
            Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
            if (!worked)
            {
                Sleep();
            }
        }

        // Whatever the blocks still hold completes on this thread too; draining ends when the queue stays empty.
        while (RunTasks())
        {
        }
    }

    private bool RunTasks()
    {
        int ran = 0;
        while (ran < TasksPerRound && _work.TryDequeue(out IShardWork? work))
        {
            work.Execute();
            ran++;
        }

        int tasks = 0;
        while (tasks < TasksPerRound && _tasks.TryDequeue(out Task? task))
        {
            TryExecuteTask(task);
            tasks++;
        }

        return ran + tasks > 0;
    }

    private void Sleep()
    {
        Interlocked.Exchange(ref _sleeping, 1);
        if (!_tasks.IsEmpty || !_work.IsEmpty || _stopping)
        {
            Volatile.Write(ref _sleeping, 0);
            return;
        }

        pollfd* fds = stackalloc pollfd[2];
        fds[0].fd = _wakeFd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        int count = 1;
        Sleeps++;
        if (_source is not null && _source.WantsRead)
        {
            fds[1].fd = _source.Descriptor;
            fds[1].events = POLLIN;
            fds[1].revents = 0;
            count = 2;
        }
        else
        {
            SleepsBackpressured++;
        }

        // The timeout only bounds how long a lost wake-up could stall; nothing relies on it.
        if (poll(fds, (ulong_t)(ulong)count, 1000) == 0)
        {
            SleepTimeouts++;
        }

        Volatile.Write(ref _sleeping, 0);
        if ((fds[0].revents & POLLIN) != 0)
        {
            ulong value;
            read(_wakeFd, &value, sizeof(ulong));
        }
    }

    private void Wake()
    {
        ulong one = 1;
        write(_wakeFd, &one, sizeof(ulong));
    }

    public void Dispose()
    {
        Stop();
        close(_wakeFd);
    }
}

/// <summary>Posts continuations captured on the loop thread back to the loop (see <see cref="ShardLoop"/>'s Run).</summary>
internal sealed class LoopContext(ShardLoop loop) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state) =>
        _ = Task.Factory.StartNew(() => d(state), CancellationToken.None, TaskCreationOptions.None, loop);

    public override void Send(SendOrPostCallback d, object? state)
    {
        if (loop.IsLoopThread)
        {
            d(state);
            return;
        }

        Task.Factory.StartNew(() => d(state), CancellationToken.None, TaskCreationOptions.None, loop).Wait();
    }

    public override SynchronizationContext CreateCopy() => this;
}

/// <summary>A reusable unit of work the shard loop runs (a pipeline block's turn); see <see cref="ShardLoop.Schedule"/>.</summary>
internal interface IShardWork
{
    /// <summary>Runs on the loop thread; an exception here is a bug of the item and must be handled inside it.</summary>
    void Execute();
}

/// <summary>What the shard loop reads packets from (the TUN queue in production, a test feed in tests).</summary>
internal interface IShardSource
{
    /// <summary>Descriptor to poll for readability.</summary>
    int Descriptor { get; }

    /// <summary>True when the source would read if data arrived (a batch is free and the pipeline has room).</summary>
    bool WantsRead { get; }

    /// <summary>Reads at most one batch and hands it to the pipeline; true when it did any work.</summary>
    bool Pump();
}
