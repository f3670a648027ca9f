using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using VirtualStack.Host.Pipeline;

namespace VirtualStack.Host.Tests.Pipeline;

/// <summary>
/// The Dataflow protocol as <see cref="ShardStageBlock"/> speaks it, on a real shard loop: order, bounded input,
/// postponement between linked blocks, completion and fault propagation, and linking with a built-in block.
/// </summary>
public sealed class ShardStageBlockTests : IDisposable
{
    private readonly ShardLoop _loop = new("block-test");

    public ShardStageBlockTests() => _loop.Start(null);

    public void Dispose() => _loop.Dispose();

    [Fact]
    public async Task Batches_leave_in_the_order_they_came_through_two_linked_blocks()
    {
        var seen = new ConcurrentQueue<long>();
        var first = new ShardStageBlock([new Stamp("a")], _loop, 8, Throw);
        var second = new ShardStageBlock([new Record("b", seen)], _loop, 2, Throw); // small: the first must postpone into it
        first.LinkTo(second, new DataflowLinkOptions { PropagateCompletion = true });

        var posted = 0;
        for (var i = 0; i < 500; i++)
        {
            var batch = new PacketBatch(1, 64) { ReceivedAt = i };
            while (!await OnLoop(() => first.Post(batch)))
            {
                await Task.Yield(); // full: Post declines, as the TUN source sees it
            }

            posted++;
        }

        first.Complete();
        await second.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(500, posted);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)i), seen);
    }

    [Fact]
    public async Task A_full_block_declines_Post_and_takes_more_once_it_has_run()
    {
        using var gate = new ManualResetEventSlim(false);
        using var entered = new ManualResetEventSlim(false);
        var block = new ShardStageBlock([new Wait("w", entered, gate)], _loop, 2, Throw);

        // The loop is held inside the first batch's stage: the input takes 2 more, the rest are declined.
        Assert.True(block.Post(new PacketBatch(1, 64)));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)));
        var accepted = 0;
        for (var i = 0; i < 10; i++)
        {
            if (block.Post(new PacketBatch(1, 64)))
            {
                accepted++;
            }
        }

        Assert.Equal(2, accepted);
        gate.Set();
        block.Complete();
        await block.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(block.Post(new PacketBatch(1, 64)), "a completed block declines");
    }

    [Fact]
    public async Task A_stage_that_throws_abandons_its_batch_and_the_next_one_still_flows()
    {
        var seen = new ConcurrentQueue<long>();
        var abandoned = new ConcurrentQueue<long>();
        var first = new ShardStageBlock([new FailOn("f", 3)], _loop, 8, (batch, _, _) => abandoned.Enqueue(batch.ReceivedAt));
        var second = new ShardStageBlock([new Record("r", seen)], _loop, 8, Throw);
        first.LinkTo(second, new DataflowLinkOptions { PropagateCompletion = true });
        for (var i = 0; i < 6; i++)
        {
            var batch = new PacketBatch(1, 64) { ReceivedAt = i };
            Assert.True(await OnLoop(() => first.Post(batch)));
        }

        first.Complete();
        await second.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([3L], abandoned);
        Assert.Equal([0L, 1, 2, 4, 5], seen);
    }

    [Fact]
    public async Task A_failure_callback_that_throws_faults_the_block_and_the_fault_propagates()
    {
        var first = new ShardStageBlock([new FailOn("f", 0)], _loop, 8, Throw);
        var second = new ShardStageBlock([new Stamp("s")], _loop, 8, Throw);
        first.LinkTo(second, new DataflowLinkOptions { PropagateCompletion = true });
        Assert.True(first.Post(new PacketBatch(1, 64)));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("stage failed", error.Message, StringComparison.Ordinal);
        Assert.True(first.Completion.IsFaulted);
    }

    [Fact]
    public async Task It_feeds_a_built_in_Dataflow_block_and_refuses_a_second_target()
    {
        var buffer = new BufferBlock<PacketBatch?>(new DataflowBlockOptions { BoundedCapacity = 1 });
        var block = new ShardStageBlock([new Stamp("s")], _loop, 8, Throw);
        block.LinkTo(buffer, new DataflowLinkOptions { PropagateCompletion = true });
        Assert.Throws<InvalidOperationException>(() => block.LinkTo(new BufferBlock<PacketBatch?>(), new DataflowLinkOptions()));

        // The buffer holds one at a time: the block holds the next postponed until it is taken, then its input fills
        // and Post declines (backpressure) until the reader catches up.
        var reader = Task.Run(async () =>
        {
            var received = new List<long>();
            for (var i = 0; i < 20; i++)
            {
                received.Add((await buffer.ReceiveAsync(TimeSpan.FromSeconds(10)))!.ReceivedAt);
            }

            return received;
        });
        for (var i = 0; i < 20; i++)
        {
            var batch = new PacketBatch(1, 64) { ReceivedAt = i };
            while (!await OnLoop(() => block.Post(batch)))
            {
                await Task.Delay(1);
            }
        }

        block.Complete();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), await reader);
        await buffer.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_await_started_in_a_stage_resumes_on_the_loop_thread()
    {
        // A stack build that completes later (StackEngine awaits it inside the decision) must resume where the flow
        // table lives, although the stages run as work items and not as tasks on the loop's scheduler.
        var pending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resumed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var block = new ShardStageBlock([new AwaitIn("await", pending.Task, resumed, _loop)], _loop, 8, Throw);
        Assert.True(await OnLoop(() => block.Post(new PacketBatch(1, 64))));
        await Task.Delay(50);
        await Task.Run(pending.SetResult); // completed from a thread-pool thread
        Assert.True(await resumed.Task.WaitAsync(TimeSpan.FromSeconds(10)), "the continuation ran off the loop thread");
        block.Complete();
        await block.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private Task<bool> OnLoop(Func<bool> post) =>
        Task.Factory.StartNew(post, CancellationToken.None, TaskCreationOptions.None, _loop);

    private static void Throw(PacketBatch batch, IBatchStage stage, Exception e) =>
        throw new InvalidOperationException("stage failed", e);

    private sealed class Stamp(string name) : IBatchStage
    {
        public string Name => name;

        public void Process(PacketBatch batch) => batch.Count = 1;
    }

    private sealed class Record(string name, ConcurrentQueue<long> seen) : IBatchStage
    {
        public string Name => name;

        public void Process(PacketBatch batch) => seen.Enqueue(batch.ReceivedAt);
    }

    private sealed class FailOn(string name, long which) : IBatchStage
    {
        public string Name => name;

        public void Process(PacketBatch batch)
        {
            if (batch.ReceivedAt == which)
            {
                throw new InvalidDataException($"batch {which}");
            }
        }
    }

    private sealed class AwaitIn(string name, Task pending, TaskCompletionSource<bool> resumed, ShardLoop loop) : IBatchStage
    {
        public string Name => name;

        public void Process(PacketBatch batch) => _ = Continue();

        private async Task Continue()
        {
            await pending;
            resumed.TrySetResult(loop.IsLoopThread);
        }
    }

    private sealed class Wait(string name, ManualResetEventSlim entered, ManualResetEventSlim gate) : IBatchStage
    {
        public string Name => name;

        public void Process(PacketBatch batch)
        {
            entered.Set();
            gate.Wait(TimeSpan.FromSeconds(10));
        }
    }
}
