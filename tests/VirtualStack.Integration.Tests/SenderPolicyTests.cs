using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// RuleBased by the sending process, where the kernel tells it: three applications in the edge namespace send to the
/// same address, one as root (the test's own socket), one as user nobody, one as root in a control group of its own.
/// VS finds each flow's socket in the kernel's socket table, its owner and its process's cgroups; the rule sends
/// nobody's and the cgroup's datagrams over udpB (server B) and everything else over udpA (server A). The uid is
/// known from a flow's first packet; the cgroup (a walk over every process, off the pipeline thread) a little later,
/// after which the flow moves to udpB without losing anything.
/// </summary>
public sealed class SenderPolicyTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const int Count = 20;

    [SkippableFact]
    public async Task RuleBased_steers_flows_by_the_senders_uid_and_cgroup()
    {
        Requires.Tools("setpriv", "socat");
        string? cgroupRoot = File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[2] == "cgroup2")?[1];
        Skip.If(cgroupRoot is null, "no cgroup2 hierarchy mounted: the cgroup half needs one");
        await using var topology = await TopologyAsync();
        string cgroup = $"/vs-sender-{topology.Id}";
        string cgroupDirectory = cgroupRoot + cgroup;
        try
        {
            Directory.CreateDirectory(cgroupDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Skip.If(true, $"cannot create a control group under {cgroupRoot}: {e.Message}");
        }

        try
        {
            var options = new Dictionary<string, string>
            {
                ["When:0:Uid"] = "nobody", ["When:0:Stack"] = "udpB",
                ["When:1:Cgroup"] = cgroup, ["When:1:Stack"] = "udpB",
                ["Default"] = "udpA",
            };
            await using var vs = await VsInstance.StartAsync(topology, SwitchStream.Config(SwitchStream.Rule(topology, "RuleBased", options)));
            IPAddress server = topology.Main.ServerV4;
            using var serverA = Netns.UdpSocket(topology.Server, new IPEndPoint(server, SwitchStream.PortA));
            using var serverB = Netns.UdpSocket(topology.Server, new IPEndPoint(server, SwitchStream.PortB));
            Task<List<string>> atA = ReceiveAsync(serverA);
            Task<List<string>> atB = ReceiveAsync(serverB);
            string to = $"UDP4-SENDTO:{server}:{SwitchStream.AppPort}";

            // Root, the test's own socket.
            using (var app = Netns.UdpSocket(topology.Edge, new IPEndPoint(IPAddress.Any, 0)))
            {
                for (int i = 0; i < Count; i++)
                {
                    await app.SendToAsync(Encoding.ASCII.GetBytes("root"), new IPEndPoint(server, SwitchStream.AppPort));
                    await Task.Delay(50);
                }
            }

            // Nobody, through socat: each printf is one read of its stdin and so one datagram ("nobody-1", ...).
            string loop = $"for i in $(seq {Count}); do printf %s-%s \"$0\" $i; sleep 0.05; done | socat -u - {to}";
            var nobody = await Cmd.RunAsync("ip", ["netns", "exec", topology.Edge, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "sh", "-c", loop, "nobody"], TimeSpan.FromSeconds(30));
            Assert.True(nobody.Ok, nobody.ToString());

            // Root again, but in a control group of its own: sh moves itself there before entering the namespace (ip netns
            // exec mounts the namespace's own /sys, without the cgroup file system); socat inherits the group.
            var grouped = await Cmd.RunAsync("sh", ["-c", $"echo $$ > {cgroupDirectory}/cgroup.procs && exec ip netns exec {topology.Edge} sh -c '{loop}' cgroup"],
                TimeSpan.FromSeconds(30));
            // Where the cgroup file system refuses a new member (a delegated hierarchy with controllers enabled), the
            // half of the test that needs it cannot run; nothing was sent then.
            Skip.If(!grouped.Ok && grouped.StdErr.Contains("cgroup.procs", StringComparison.Ordinal), $"cannot move a process into {cgroupDirectory}: {grouped.StdErr}");
            Assert.True(grouped.Ok, grouped.ToString());

            await Task.Delay(1000);
            using JsonDocument flows = await SwitchStream.JsonAsync(vs, "flows");
            string table = flows.RootElement.ToString();
            var a = Snapshot(await WithTimeout(atA, serverA));
            var b = Snapshot(await WithTimeout(atB, serverB));
            Log($"A: {string.Join(',', a)}\nB: {string.Join(',', b)}\nflows: {table}");
            string[] Numbered(string who) => [.. Enumerable.Range(1, Count).Select(i => $"{who}-{i}")];
            Assert.Equal(Enumerable.Repeat("root", Count), a.Where(p => p == "root"));
            // By uid from the first packet on.
            Assert.Equal(Numbered("nobody"), b.Where(p => p.StartsWith("nobody-", StringComparison.Ordinal)));
            // By cgroup once the walk found the process: the first datagrams (fewer than half) on udpA, the rest on
            // udpB, each exactly once and in order.
            string[] groupedAtA = [.. a.Where(p => p.StartsWith("cgroup-", StringComparison.Ordinal))];
            string[] groupedAtB = [.. b.Where(p => p.StartsWith("cgroup-", StringComparison.Ordinal))];
            Assert.Equal(Numbered("cgroup"), groupedAtA.Concat(groupedAtB));
            Assert.True(groupedAtA.Length < Count / 2, $"the cgroup was known only after {groupedAtA.Length} datagrams ({groupedAtA.Length * 50} ms)");
            Assert.Equal(Count + groupedAtA.Length, a.Count);
            Assert.Equal(2 * Count - groupedAtA.Length, b.Count);

            // vs flows shows what the kernel told: each flow's uid, and the cgroup flow's process and cgroup.
            JsonElement[] stream = [.. flows.RootElement.EnumerateArray().Where(f => f.GetProperty("rule").GetString() == "stream")];
            Assert.Equal(3, stream.Length);
            Assert.Contains(stream, f => f.GetProperty("sender").GetProperty("uid").GetInt32() == 65534 && f.GetProperty("stack").GetString() == "udpB");
            Assert.Contains(stream, f => f.GetProperty("sender").GetProperty("cgroups")[0].GetString() == cgroup && f.GetProperty("stack").GetString() == "udpB");
            Assert.Contains(stream, f => f.GetProperty("sender").GetProperty("uid").GetInt32() == 0 && f.GetProperty("stack").GetString() == "udpA");
            using JsonDocument status = await SwitchStream.JsonAsync(vs, "status");
            JsonElement rule = status.RootElement.GetProperty("rules").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "stream");
            Assert.Equal(3, rule.GetProperty("sender_lookups").GetInt64());
            Assert.Equal(0, rule.GetProperty("senders_unknown").GetInt64());
            await vs.StopAsync();
        }
        finally
        {
            // The group's processes have exited; an empty cgroup is removed with rmdir.
            try
            {
                Directory.Delete(cgroupDirectory);
            }
            catch (IOException e)
            {
                Log($"could not remove {cgroupDirectory}: {e.Message}");
            }
        }
    }

    private static List<string> Snapshot(List<string> list)
    {
        lock (list)
        {
            return [.. list];
        }
    }

    private static async Task<List<string>> WithTimeout(Task<List<string>> receiving, Socket socket)
    {
        socket.Close();
        return await receiving;
    }

    private static Task<List<string>> ReceiveAsync(Socket socket) => Task.Run(async () =>
    {
        var payloads = new List<string>();
        var buffer = new byte[2048];
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return payloads;
            }

            lock (payloads)
            {
                payloads.Add(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
    });
}
