using System.Globalization;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// The test topology of design.md section 6, built fresh for one test: an edge namespace <c>vse-ID</c> (where the
/// application and VS run) and a server namespace <c>vss-ID</c>, joined by one veth pair per path. Path 1 is
/// 10.201.0.1/30 (edge) &lt;-&gt; 10.201.0.2/30 (server) and fd00:201::1/64 &lt;-&gt; fd00:201::2/64. lo is up
/// in both, rp_filter is 0 everywhere in both (replies of the raw stack come in on the veth to an address that
/// lives on the TUN), IPv6 duplicate address detection is off (addresses usable at once), forwarding is off unless
/// asked for, and the server namespace routes the VNIC prefixes 10.200.0.0/24 and fd00:200::/64 back to the edge
/// over path 1.
/// </summary>
/// <remarks>
/// Teardown kills the processes started through <see cref="Start"/> by pid first (deleting a namespace kills
/// nothing: a process left inside would keep it alive), then deletes both namespaces, which deletes the veths and
/// whatever VS left inside. It runs on dispose, from a finalizer if a test forgot to dispose, and at process exit.
/// </remarks>
internal sealed class NetnsTopology : IAsyncDisposable
{
    private const string EdgePrefix = "vse-";
    private const string ServerPrefix = "vss-";

    private static readonly object Registry = new();
    // Weak, so that a topology a test forgot to dispose can still be finalized (and torn down there).
    private static readonly List<WeakReference<NetnsTopology>> Live = [];
    private static int _counter;
    private static bool _exitHookInstalled;

    private readonly List<NsProcess> _processes = [];
    private readonly List<NetPath> _paths = [];
    private int _tornDown;

    private NetnsTopology(string id, Action<string>? log)
    {
        Id = id;
        Edge = EdgePrefix + id;
        Server = ServerPrefix + id;
        Log = log;
    }

    ~NetnsTopology() => TeardownNow();

    /// <summary>The unique suffix: the test process's pid and a counter, both hex ("3f2a-1").</summary>
    public string Id { get; }

    /// <summary>Edge namespace: application, VS and its TUN.</summary>
    public string Edge { get; }

    /// <summary>Server namespace: the far ends.</summary>
    public string Server { get; }

    public Action<string>? Log { get; }

    public IReadOnlyList<NetPath> Paths => _paths;

    /// <summary>Path 1, the one every test uses.</summary>
    public NetPath Main => _paths[0];

    /// <summary>Builds the topology with <paramref name="paths"/> veth paths.</summary>
    public static async Task<NetnsTopology> CreateAsync(int paths = 1, bool forwarding = false, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(paths, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(paths, 50);
        InstallExitHook();
        SweepStale();
        var id = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId:x}-{Interlocked.Increment(ref _counter):x}");
        var topology = new NetnsTopology(id, log);
        lock (Registry)
        {
            Live.RemoveAll(w => !w.TryGetTarget(out _));
            Live.Add(new WeakReference<NetnsTopology>(topology));
        }

        try
        {
            await topology.BuildAsync(paths, forwarding);
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    /// <summary>Adds another veth path (10.(200+N).0.0/30), N = next index.</summary>
    public async Task<NetPath> AddPathAsync()
    {
        var path = new NetPath(_paths.Count + 1);
        await IpAsync("link", "add", "name", path.EdgeDevice, "netns", Edge, "type", "veth",
            "peer", "name", path.ServerDevice, "netns", Server);
        foreach (var (ns, dev, v4, v6) in new[]
                 {
                     (Edge, path.EdgeDevice, path.EdgeV4, path.EdgeV6),
                     (Server, path.ServerDevice, path.ServerV4, path.ServerV6),
                 })
        {
            await IpAsync("-n", ns, "addr", "add", $"{v4}/30", "dev", dev);
            await IpAsync("-n", ns, "-6", "addr", "add", $"{v6}/64", "dev", dev, "nodad");
            await SysctlAsync(ns, $"net.ipv4.conf.{dev}.rp_filter=0");
            await IpAsync("-n", ns, "link", "set", dev, "up");
        }

        _paths.Add(path);
        return path;
    }

    /// <summary>In the server namespace, routes <paramref name="prefix"/> back to the edge over <paramref name="path"/>.</summary>
    public Task AddServerRouteAsync(string prefix, NetPath path) =>
        prefix.Contains(':')
            ? IpAsync("-n", Server, "-6", "route", "add", prefix, "via", path.EdgeV6.ToString())
            : IpAsync("-n", Server, "route", "add", prefix, "via", path.EdgeV4.ToString());

    /// <summary>Starts a long-running program in <paramref name="ns"/>; it is killed by pid at teardown.</summary>
    public NsProcess Start(string ns, string file, params string[] args) => Track(NsProcess.Start(ns, file, args, Log));

    /// <summary>Starts a program that reads its standard input from the test.</summary>
    public NsProcess StartWithStdin(string ns, string file, params string[] args) =>
        Track(NsProcess.Start(ns, file, args, Log, stdin: true));

    /// <summary>Registers a process started elsewhere so teardown kills it before deleting the namespaces.</summary>
    public NsProcess Track(NsProcess process)
    {
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>Runs a short command in <paramref name="ns"/> to completion.</summary>
    public Task<CmdResult> ExecAsync(string ns, params string[] command) =>
        Cmd.RunAsync("ip", ["netns", "exec", ns, .. command], TimeSpan.FromSeconds(60));

    /// <summary>Waits until something listens on <paramref name="port"/> in <paramref name="ns"/> (ss), so a client
    /// never races its server.</summary>
    public async Task WaitForListenerAsync(string ns, string protocol, int port, TimeSpan? timeout = null)
    {
        var flag = protocol == "tcp" ? "-Hltn" : "-Hlun";
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var r = await ExecAsync(ns, "ss", flag, $"sport = :{port}");
            if (r.Ok && r.StdOut.Trim().Length > 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nothing listens on {protocol}/{port} in {ns}: {r}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// The network state of a namespace as text: devices, addresses, rules and all routes of all tables, v4 and
    /// v6. Two snapshots are equal when nothing was added or left behind.
    /// </summary>
    public async Task<string> SnapshotAsync(string ns)
    {
        var parts = new List<string>();
        foreach (var args in new[]
                 {
                     new[] { "-br", "link" }, ["-br", "addr"], ["-4", "rule"], ["-6", "rule"],
                     ["-4", "route", "show", "table", "all"], ["-6", "route", "show", "table", "all"],
                 })
        {
            var r = await Cmd.RunAsync("ip", ["-n", ns, .. args], TimeSpan.FromSeconds(20));
            if (!r.Ok)
            {
                throw new InvalidOperationException(r.ToString());
            }

            parts.Add($"## ip {string.Join(' ', args)}\n{Normalize(r.StdOut)}");
        }

        return string.Join('\n', parts);
    }

    public async ValueTask DisposeAsync()
    {
        List<NsProcess> processes;
        lock (_processes)
        {
            processes = [.. _processes];
            _processes.Clear();
        }

        foreach (var process in processes)
        {
            await process.DisposeAsync();
        }

        TeardownNamespaces();
        GC.SuppressFinalize(this);
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            .Order(StringComparer.Ordinal));

    private static void InstallExitHook()
    {
        lock (Registry)
        {
            if (_exitHookInstalled)
            {
                return;
            }

            _exitHookInstalled = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                var live = new List<NetnsTopology>();
                lock (Registry)
                {
                    foreach (var weak in Live)
                    {
                        if (weak.TryGetTarget(out var topology))
                        {
                            live.Add(topology);
                        }
                    }
                }

                foreach (var topology in live)
                {
                    topology.TeardownNow();
                }
            };
        }
    }

    /// <summary>
    /// Deletes namespaces left by an earlier test process that died without teardown (killed test host). Only
    /// ours by name (vse-PID-N / vss-PID-N), only when that pid is gone and nothing runs inside any more.
    /// </summary>
    private static void SweepStale()
    {
        if (!Directory.Exists("/run/netns"))
        {
            return;
        }

        foreach (var path in Directory.GetFiles("/run/netns"))
        {
            var name = Path.GetFileName(path);
            if (!(name.StartsWith(EdgePrefix, StringComparison.Ordinal) || name.StartsWith(ServerPrefix, StringComparison.Ordinal)))
            {
                continue;
            }

            var parts = name.Split('-');
            if (parts.Length != 3 || !int.TryParse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}"))
            {
                continue;
            }

            var pids = Cmd.Run("ip", "netns", "pids", name);
            if (pids.Ok && pids.StdOut.Trim().Length == 0)
            {
                Cmd.Run("ip", "netns", "del", name);
            }
        }
    }

    private async Task BuildAsync(int paths, bool forwarding)
    {
        foreach (var ns in new[] { Edge, Server })
        {
            await IpAsync("netns", "add", ns);
            // Set the defaults before any device exists, so every device made later (the veths, VS's TUN)
            // inherits them; the effective rp_filter is the maximum of "all" and the device's own value.
            var fwd = forwarding ? "1" : "0";
            await SysctlAsync(ns,
                "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
                "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                $"net.ipv4.ip_forward={fwd}", $"net.ipv6.conf.all.forwarding={fwd}");
            await SysctlAsync(ns, "net.ipv4.conf.lo.rp_filter=0");
            await IpAsync("-n", ns, "link", "set", "lo", "up");
        }

        for (var i = 0; i < paths; i++)
        {
            await AddPathAsync();
        }

        await AddServerRouteAsync("10.200.0.0/24", Main);
        await AddServerRouteAsync("fd00:200::/64", Main);
    }

    private async Task SysctlAsync(string ns, params string[] settings)
    {
        var r = await ExecAsync(ns, ["sysctl", "-q", "-w", .. settings]);
        if (!r.Ok)
        {
            throw new InvalidOperationException($"topology {Id}: {r}");
        }
    }

    private async Task IpAsync(params string[] args)
    {
        var r = await Cmd.RunAsync("ip", args, TimeSpan.FromSeconds(20));
        if (!r.Ok)
        {
            throw new InvalidOperationException($"topology {Id}: {r}");
        }
    }

    /// <summary>Synchronous teardown for the finalizer and process exit: kill our processes, delete the namespaces.</summary>
    private void TeardownNow()
    {
        NsProcess[] processes;
        lock (_processes)
        {
            processes = [.. _processes];
            _processes.Clear();
        }

        foreach (var process in processes)
        {
            process.KillNow();
        }

        TeardownNamespaces();
    }

    private void TeardownNamespaces()
    {
        if (Interlocked.Exchange(ref _tornDown, 1) != 0)
        {
            return;
        }

        try
        {
            foreach (var ns in new[] { Edge, Server })
            {
                if (File.Exists(Path.Combine("/run/netns", ns)))
                {
                    var r = Cmd.Run("ip", "netns", "del", ns);
                    if (!r.Ok)
                    {
                        Log?.Invoke($"teardown of {ns}: {r}");
                    }
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Teardown is best effort from a finalizer or at process exit: never throw from there.
        }
        finally
        {
            lock (Registry)
            {
                Live.RemoveAll(w => !w.TryGetTarget(out var t) || ReferenceEquals(t, this));
            }
        }
    }
}
