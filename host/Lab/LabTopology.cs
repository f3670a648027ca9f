using System.Globalization;
using VirtualStack.Host.Setup;

namespace VirtualStack.Host.Lab;

/// <summary>
/// The private topology of <c>vs bench</c> and <c>vs demo</c> (design.md §6): an edge namespace (application, VS,
/// VNIC) and a server namespace joined by veth paths 10.201.0.0/30, 10.202.0.0/30, ...; the server routes the VNIC
/// prefix back to the edge. Names carry this process's id, so parallel runs never collide; everything is deleted on
/// dispose, on Ctrl-C and at process exit, including the processes started in it (by pid).
/// </summary>
internal sealed class LabTopology : IDisposable
{
    private readonly List<LabProcess> _processes = [];
    private int _disposed;

    private LabTopology(string tag)
    {
        string id = Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture);
        Edge = $"{tag}-e-{id}";
        Server = $"{tag}-s-{id}";
        Tag = $"{tag}{id}";
    }

    public string Edge { get; }

    public string Server { get; }

    private string Tag { get; }

    /// <summary>Server-side address of path <paramref name="path"/> (1-based): 10.(200+path).0.2.</summary>
    public static string ServerAddress(int path) => $"10.{200 + path}.0.2";

    public static string EdgeAddress(int path) => $"10.{200 + path}.0.1";

    public static LabTopology Create(string tag, int paths, Action<string> log)
    {
        var lab = new LabTopology(tag);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => lab.Dispose();
        try
        {
            lab.Build(paths);
            log($"lab: namespaces {lab.Edge} and {lab.Server}, {paths} veth path(s)");
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    private void Build(int paths)
    {
        foreach (string ns in new[] { Edge, Server })
        {
            CommandRunner.Run("ip", "netns", "del", ns); // a leftover of an earlier run with the same pid
            CommandRunner.Check("ip", "netns", "add", ns);
            CommandRunner.Check("ip", "-n", ns, "link", "set", "lo", "up");
            foreach (string key in new[] { "all", "default" })
            {
                // Raw-stack replies enter on the veth from addresses routed into the VNIC: no strict rp_filter.
                CommandRunner.Check("ip", "netns", "exec", ns, "sysctl", "-qw", $"net.ipv4.conf.{key}.rp_filter=0");
            }
        }

        for (int p = 1; p <= paths; p++)
        {
            string edgeDevice = $"{Tag}e{p}";
            string serverDevice = $"{Tag}s{p}";
            CommandRunner.Check("ip", "link", "add", edgeDevice, "netns", Edge, "type", "veth", "peer", "name", serverDevice, "netns", Server);
            CommandRunner.Check("ip", "-n", Edge, "addr", "add", $"{EdgeAddress(p)}/30", "dev", edgeDevice);
            CommandRunner.Check("ip", "-n", Server, "addr", "add", $"{ServerAddress(p)}/30", "dev", serverDevice);
            CommandRunner.Check("ip", "-n", Edge, "link", "set", edgeDevice, "up");
            CommandRunner.Check("ip", "-n", Server, "link", "set", serverDevice, "up");
        }

        CommandRunner.Check("ip", "-n", Server, "route", "add", "10.200.0.0/24", "via", EdgeAddress(1));
    }

    public LabProcess Start(string ns, string program, IEnumerable<string> arguments, int? cpu = null, int nice = 0)
    {
        LabProcess process = LabProcess.Start(ns, program, arguments, cpu, nice);
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_processes)
        {
            foreach (LabProcess process in _processes)
            {
                process.Dispose();
            }
        }

        CommandRunner.Run("ip", "netns", "del", Edge);
        CommandRunner.Run("ip", "netns", "del", Server);
    }
}
