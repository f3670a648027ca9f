using System.Globalization;
using System.Net;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// A <c>vs udp-delay</c> in a namespace of a topology (tracked, so teardown kills it): the delay element of the
/// tests where the kernel has no sch_netem. A path whose far end is <see cref="Listen"/> has a round trip 2 x delay
/// longer; <see cref="SetAsync"/> changes the settings while traffic flows.
/// </summary>
internal sealed class DelayRelay
{
    private int _changes;

    private DelayRelay(NsProcess process, IPEndPoint listen)
    {
        Process = process;
        Listen = listen;
    }

    public NsProcess Process { get; }

    /// <summary>Where the relay receives: the far end a path should use.</summary>
    public IPEndPoint Listen { get; }

    /// <summary>Starts the relay in <paramref name="ns"/> and waits until it is bound.</summary>
    public static async Task<DelayRelay> StartAsync(NetnsTopology topology, string ns, IPEndPoint listen, IPEndPoint to, double delayMs)
    {
        var process = topology.Track(NsProcess.Start(ns, VsExecutable.Path,
            ["udp-delay", "--listen", $"{listen}", "--to", $"{to}", "--delay", delayMs.ToString(CultureInfo.InvariantCulture)],
            topology.Log, VsExecutable.Environment(), stdin: true));
        await process.WaitForLineAsync(l => l.StartsWith("relaying", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "relay readiness", "out");
        return new DelayRelay(process, listen);
    }

    /// <summary>Sends a control line (<c>delay 40</c>, <c>jitter 2</c>, <c>loss 5</c>) and waits until the relay applied it.</summary>
    public async Task SetAsync(string line)
    {
        int change = ++_changes;
        await Process.WriteStdinAsync(line + "\n");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Process.StdOut.Count(l => l.StartsWith("set:", StringComparison.Ordinal)) < change)
        {
            if (DateTime.UtcNow > deadline || Process.HasExited)
            {
                throw new TimeoutException($"the relay did not apply '{line}':\n{Process.Output()}");
            }

            await Task.Delay(5);
        }
    }
}
