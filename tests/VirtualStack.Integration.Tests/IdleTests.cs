using System.Globalization;
using System.Text.Json;
using VirtualStack.Host.Lab;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// An idle VS costs nothing: no spinning thread, and no packets it sends looping back into its own VNIC. Found the
/// hard way: in a namespace where VS's TUN was the only device, the kernel's IPv6 router solicitations from vs0 went
/// to the default stack, out of the raw socket, and straight back into vs0 (link-scope multicast has no other way
/// out), multiplying: a core busy with nothing.
/// </summary>
public sealed class IdleTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private static int _counter;

    [SkippableFact]
    public async Task Vs_alone_in_a_namespace_with_the_embedded_default_stays_idle_and_forwards_no_link_scope_traffic()
    {
        Requires.Root();
        string ns = string.Create(CultureInfo.InvariantCulture, $"vsi-{Environment.ProcessId:x}-{Interlocked.Increment(ref _counter):x}");
        string socket = Path.Combine(Path.GetTempPath(), $"{ns}.sock");
        await Cmd.CheckedAsync("ip", "netns", "add", ns);
        NsProcess? vs = null;
        try
        {
            await Cmd.CheckedAsync("ip", "-n", ns, "link", "set", "lo", "up");
            vs = NsProcess.Start(ns, VsExecutable.Path, ["run", $"--VirtualStack:Management:Socket={socket}"], Log, VsExecutable.Environment());
            await vs.WaitForLineAsync(l => l.StartsWith(VsInstance.ReadyPrefix, StringComparison.Ordinal), TimeSpan.FromSeconds(60), "vs ready", "out");

            // The kernel sends its router solicitations and MLD reports on vs0 within the first second or so.
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            TimeSpan before = ProcStat.ProcessCpu(vs.Pid);
            await Task.Delay(TimeSpan.FromSeconds(3));
            double cores = (ProcStat.ProcessCpu(vs.Pid) - before).TotalSeconds / 3;

            var status = await VsInstance.RunCommandAsync(null, "status", "--json", "--socket", socket);
            Assert.True(status.Ok, status.ToString());
            using var json = JsonDocument.Parse(status.StdOut);
            var drops = StatusJson.Drops(json);
            var result = json.RootElement.TryGetProperty("result", out var r) ? r : json.RootElement;
            long carried = result.GetProperty("packets_sent").GetInt64();
            Log($"idle: {cores:0.000} cores over 3 s; link-scope drops {StatusJson.Drop(drops, "LinkScope")}, carried {carried}");
            Assert.True(cores < 0.2, $"an idle vs used {cores:0.00} cores (a spinning thread or a packet loop).\n{status.StdOut}\n{vs.Output()}");
            Assert.Equal(0, carried); // nothing but the VNIC's own link-scope chatter arrived, and none of it is carried
        }
        finally
        {
            if (vs is not null)
            {
                vs.Signal(LibC.SigTerm);
                await vs.WaitForExitAsync(TimeSpan.FromSeconds(15));
                await vs.DisposeAsync();
            }

            await Cmd.RunAsync("ip", "netns", "del", ns);
        }
    }
}
