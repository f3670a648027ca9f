using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Tests.Infrastructure;
using VirtualStack.Plugins.Udp;

namespace VirtualStack.Plugins.Tests.Udp;

/// <summary>Tests that change process-wide state (the descriptor limit) run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(ProcessWide), DisableParallelization = true)]
public sealed class ProcessWide;

[Collection(nameof(ProcessWide))]
public sealed class UdpDescriptorLimitTests
{
    [Fact]
    public async Task Running_out_of_descriptors_fails_open_with_a_clear_exception_and_the_stack_carries_on()
    {
        using var echo = new UdpEchoServer();
        await using var bed = new UdpTestBed();
        var firstSink = new TestReplySink();
        var flows = new List<UdpFlow> { bed.Open(echo.Remote, firstSink) };
        Exception? refused = null;

        // Every flow goes to the same far end, so each needs a socket of its own.
        using (DescriptorLimit.AllowOnly(4))
        {
            for (int i = 1; i < 64 && refused is null; i++)
            {
                ValueTask<IStackFlow> opening = bed.Stack.Open(UdpTestBed.Key(40_000 + i), echo.Remote, new TestReplySink(), CancellationToken.None);
                refused = Record.Exception(() => flows.Add((UdpFlow)opening.Result));
            }
        }

        Assert.NotNull(refused);
        Assert.IsType<IOException>(refused);
        Assert.Contains("cannot open flow udp 10.200.0.1:", refused.Message, StringComparison.Ordinal);
        Assert.Contains("EMFILE", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"already carry a flow to {echo.Remote}", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, bed.Stack.Counters.OpenFailures);
        Assert.Equal(flows.Count, bed.Stack.SocketCount(v6: false));

        // The flows already open still work, and with descriptors back a new flow opens.
        bed.SendAndFlush(flows[0], new PacketSlab(1), [1, 2, 3]);
        Assert.True(firstSink.WaitFor(1, Loopback.Timeout));
        UdpFlow late = bed.Open(echo.Remote, new TestReplySink(), 41_000);
        Assert.Equal(flows.Count + 1, bed.Stack.SocketCount(v6: false));
        late.Dispose();
    }
}
