using System.Reflection;
using System.Text.Json;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// A third-party policy plugin that throws (tests/TestPlugins/Faulty, dropped into the plugins folder beside the
/// real plugins): the flow stays on the stack it had, nothing is lost, and the error is reported: counted in
/// vs status, logged once per period, not asked again for the rest of a second once it throws too often. A
/// vs policy with a plugin that throws while checking or creating is refused and changes nothing.
/// </summary>
public sealed class PolicyFaultTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private static string TestPlugins =>
        typeof(PolicyFaultTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TestPluginsPath").Value!;

    [SkippableFact]
    public async Task A_policy_that_throws_leaves_the_flow_on_its_stack_and_the_error_is_reported()
    {
        await using var topology = await TopologyAsync();
        string plugins = Path.Combine(Path.GetTempPath(), $"vs-plugins-{topology.Id}");
        Directory.CreateDirectory(plugins);
        try
        {
            foreach (string folder in Directory.GetDirectories(VsExecutable.PluginsDirectory))
            {
                Directory.CreateSymbolicLink(Path.Combine(plugins, Path.GetFileName(folder)), folder);
            }

            Directory.CreateSymbolicLink(Path.Combine(plugins, "Faulty"), Path.Combine(TestPlugins, "Faulty"));
            VsConfig config = SwitchStream.Config(SwitchStream.Rule(topology, "Faulty",
                new Dictionary<string, string> { ["Stack"] = "udpB", ["ThrowAfter"] = "00:00:01" }));
            config.PluginsPath = plugins;
            await using var vs = await VsInstance.StartAsync(topology, config);
            await using var stream = SwitchStream.Open(topology);

            // 1 s chosen by the policy (udpB), then 1.5 s in which it throws on every packet.
            await stream.SendAsync(2500, 1000);
            await stream.SettleAsync(TimeSpan.FromSeconds(5));
            Log($"sent {stream.Sent}: A {stream.AtA.Count}, B {stream.AtB.Count}");
            Assert.Empty(stream.AtA);
            Assert.True(stream.AtB.SequenceEqual(Enumerable.Range(0, stream.Sent)), $"server B got {stream.AtB.Count} of {stream.Sent}, or out of order\n{await stream.DiagnoseAsync(topology, vs)}");

            // Let the once-a-second report run, then read what vs says.
            await Task.Delay(1500);
            using JsonDocument status = await SwitchStream.JsonAsync(vs, "status");
            JsonElement rule = status.RootElement.GetProperty("rules").EnumerateArray().Single();
            Assert.Equal("Faulty", rule.GetProperty("policy").GetString());
            long errors = rule.GetProperty("policy_errors").GetInt64();
            Assert.True(errors >= 100, $"policy_errors {errors}");
            Assert.True(errors < 1000, $"policy_errors {errors}: a policy that throws on every packet is not asked for the rest of that second");
            Assert.True(rule.GetProperty("kept_without_asking").GetInt64() > 0);
            Assert.Equal("InvalidOperationException: Faulty policy: deliberate failure in Choose", rule.GetProperty("last_error").GetString());
            using JsonDocument flows = await SwitchStream.JsonAsync(vs, "flows");
            JsonElement flow = flows.RootElement.EnumerateArray().Single(f => f.GetProperty("rule").GetString() == "stream");
            Assert.Equal("udpB", flow.GetProperty("stack").GetString());
            Assert.Equal(0, flow.GetProperty("switches").GetInt64());

            var human = await VsInstance.RunCommandAsync(null, "status", "--socket", vs.ManagementSocket);
            Assert.Contains("(last: InvalidOperationException: Faulty policy: deliberate failure in Choose)", human.StdOut, StringComparison.Ordinal);
            string[] reports = [.. vs.Process.StdErr.Where(l => l.Contains("rule stream: policy Faulty failed", StringComparison.Ordinal))];
            Assert.True(reports.Length == 1, $"expected one report in this 10 s period, got {reports.Length}:\n{vs.Process.Output()}");
            Assert.Contains("its flows stay on their current stacks", reports[0], StringComparison.Ordinal);

            // A plugin that throws while checking or creating: refused, nothing changed.
            string before = rule.GetProperty("since").GetString()!;
            foreach ((string fail, string message) in new[] { ("Validate", "validation failed: InvalidOperationException"), ("Create", "could not be created: InvalidOperationException") })
            {
                var r = await VsInstance.RunCommandAsync(null, "policy", "stream", "Faulty", $"Fail={fail}", "--socket", vs.ManagementSocket);
                Assert.True(r.ExitCode == 1, r.ToString());
                Assert.Contains(message, r.StdErr, StringComparison.Ordinal);
            }

            using JsonDocument after = await SwitchStream.JsonAsync(vs, "status");
            Assert.Equal(before, after.RootElement.GetProperty("rules")[0].GetProperty("since").GetString());
            await vs.StopAsync();
        }
        finally
        {
            Directory.Delete(plugins, recursive: true);
        }
    }
}
