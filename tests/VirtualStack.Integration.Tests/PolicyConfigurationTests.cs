using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// Policies and the remote interface in the configuration: a bad one is exit 2 naming the key, before anything is
/// touched (a remote address that is not this host's too: it is tried before the VNIC is made).
/// </summary>
public sealed class PolicyConfigurationTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private const string Key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    [SkippableTheory]
    [InlineData("VirtualStack:Rules:0:Policy=Teleport", "VirtualStack:Rules:0:Policy: no plugin in", 2)]
    [InlineData("VirtualStack:Rules:0:PolicyOptions:Period=soon", "VirtualStack:Rules:0:PolicyOptions: TimedSwitch: Period: 'soon' is not a positive time span", 2)]
    [InlineData("VirtualStack:Rules:0:PolicyOptions:Perod=00:00:01", "VirtualStack:Rules:0:PolicyOptions: TimedSwitch: Perod: unknown option", 2)]
    [InlineData("VirtualStack:Management:Remote:Listen=nowhere", "VirtualStack:Management:Remote:Listen: 'nowhere' is not an address and port", 2)]
    [InlineData("VirtualStack:Management:Remote:Key=00ff", "VirtualStack:Management:Remote:Key: 2 bytes is too short", 2)]
    [InlineData("VirtualStack:Management:Remote:Listen=10.99.99.99:7700", "VirtualStack:Management:Remote:Listen: cannot listen on 10.99.99.99:7700", 2)]
    public async Task Bad_policy_or_remote_settings_are_refused_naming_the_key_and_leave_nothing(string @override, string message, int exit)
    {
        await using var topology = await TopologyAsync();
        var pristine = await topology.SnapshotAsync(topology.Edge);
        VsConfig config = SwitchStream.Config(SwitchStream.Rule(topology, "TimedSwitch", new Dictionary<string, string> { ["Period"] = "00:00:01" }));
        config.ManagementSocket = Path.Combine(Path.GetTempPath(), $"vs-integ-{topology.Id}-policy.sock");
        config.RemoteManagement = new() { ["Listen"] = $"{topology.Main.EdgeV4}:7700", ["Key"] = Key };
        string file = Path.Combine(Path.GetTempPath(), $"vs-integ-{topology.Id}-policy.json");
        await File.WriteAllTextAsync(file, config.ToJson().ToJsonString());
        try
        {
            var r = await VsInstance.RunCommandAsync(topology.Edge, "run", "--config", file, $"--{@override}");
            Assert.True(r.ExitCode == exit, $"expected exit {exit} for --{@override}: {r}");
            Assert.Contains(message, r.StdErr, StringComparison.Ordinal);
            Assert.Equal(pristine, await topology.SnapshotAsync(topology.Edge));
            Assert.False(File.Exists(config.ManagementSocket), "the management socket was left behind");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
