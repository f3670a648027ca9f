using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>Base of the integration tests: output capture and a fresh topology per test.</summary>
public abstract class IntegrationTest(ITestOutputHelper output)
{
    protected ITestOutputHelper Output { get; } = output;

    /// <summary>Skips unless root with /dev/net/tun, then builds a fresh topology with <paramref name="paths"/> paths.</summary>
    internal async Task<NetnsTopology> TopologyAsync(int paths = 1)
    {
        Requires.Root();
        var topology = await NetnsTopology.CreateAsync(paths, log: Log);
        Log($"topology {topology.Id}: {topology.Edge} <-> {topology.Server}, {paths} path(s)");
        return topology;
    }

    protected void Log(string line)
    {
        try
        {
            Output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // Output after the test finished (a late line from a child process): nowhere to put it.
        }
    }
}
