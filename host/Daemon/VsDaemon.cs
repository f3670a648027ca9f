using VirtualStack.Host.Configuration;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Management;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Setup;
using VirtualStack.Host.Stacks;
using VirtualStack.Host.Tun;

namespace VirtualStack.Host.Daemon;

/// <summary>
/// <c>vs run</c>: validates everything first, then brings up the VNIC, the stacks, the pipeline and the management
/// socket, runs until cancelled, and takes everything down again in reverse order, on errors too.
/// </summary>
internal sealed class VsDaemon : IAsyncDisposable
{
    private readonly VsSettings _settings;
    private readonly PluginCatalog _catalog;
    private readonly Action<string> _log;
    private TunDevice? _tun;
    private NetworkSetup? _setup;
    private StackRuntime[] _stacks = [];
    private Multipath.MultipathStack[] _multipath = [];
    private ShardPipeline? _pipeline;
    private ManagementServer? _management;

    private readonly IReadOnlyList<(StackSettings Settings, Contracts.Stacks.IStackFactory Factory)> _resolved;

    private VsDaemon(
        VsSettings settings,
        PluginCatalog catalog,
        IReadOnlyList<(StackSettings Settings, Contracts.Stacks.IStackFactory Factory)> resolved,
        Action<string> log)
    {
        _settings = settings;
        _resolved = resolved;
        _catalog = catalog;
        _log = log;
    }

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public VsSettings Settings => _settings;

    public PluginCatalog Catalog => _catalog;

    public IReadOnlyList<StackRuntime> Stacks => _stacks;

    public ShardPipeline Pipeline => _pipeline ?? throw new InvalidOperationException("not started");

    public string TunName => _tun?.Name ?? _settings.Tun.Name;

    /// <summary>Validates the configuration against the plugins. Throws <see cref="ConfigurationException"/>; touches nothing.</summary>
    public static VsDaemon Prepare(VsSettings settings, PluginCatalog catalog, Action<string> log)
    {
        var resolved = StackSet.Resolve(settings, catalog);
        RuleBuilder.Validate(settings, catalog, resolved);
        return new VsDaemon(settings, catalog, resolved, log);
    }

    public async Task RunAsync(CancellationToken stop)
    {
        // Stacks and rules first: what only a live stack can tell (e.g. that it carries whole packets, so a NAT on it
        // is a configuration error) is found before the VNIC and the routes exist.
        _stacks = StackSet.Create(_resolved, unchecked((int)_settings.Tun.Mark), _log);
        RuleSet rules = RuleBuilder.Build(_settings, _catalog, _stacks);
        _tun = TunDevice.Open(_settings.Tun.Name);
        _setup = NetworkSetup.Apply(_settings.Tun, _tun.Name, _log);
        var counters = new PipelineCounters();
        var flows = new FlowManager(rules, _settings.Flows.Timeouts, _settings.Flows.MaxFlows, new TunReplyWriter(_tun, counters), counters, _settings.Flows.HoldPackets);
        int slot = SlotSize(_settings.Tun.Mtu);
        var pool = new PacketBatchPool(_settings.Pipeline.Batches, _settings.Pipeline.BatchSize, slot);
        // A multipath rule's stack is one more stack the sink may flush once per batch.
        _multipath = [.. rules.Rules.Select(r => r.Multipath).OfType<Multipath.MultipathStack>()];
        _pipeline = new ShardPipeline(0, _tun, flows, pool, counters, _stacks.Length + _multipath.Length, _settings.Pipeline.Fuse, _log);
        _management = ManagementServer.Start(_settings.ManagementSocket, new ManagementHandler(this));
        _pipeline.Start();
        Console.Out.WriteLine(
            $"vs: ready tun={_tun.Name} stacks={string.Join(',', _stacks.Select(s => s.Name))} rules={rules.Rules.Count} socket={_settings.ManagementSocket}");
        Console.Out.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Slot size: the MTU rounded up to 64 bytes, so a read can never be cut short by the slot.</summary>
    private static int SlotSize(int mtu) => (mtu + 63) & ~63;

    public async ValueTask DisposeAsync()
    {
        if (_management is not null)
        {
            await _management.DisposeAsync();
        }

        if (_pipeline is not null)
        {
            await _pipeline.DisposeAsync();
        }

        foreach (Multipath.MultipathStack stack in _multipath)
        {
            await stack.DisposeAsync();
        }

        foreach (StackRuntime stack in _stacks)
        {
            try
            {
                await stack.Stack.DisposeAsync();
            }
            catch (Exception e)
            {
                _log($"stack {stack.Name}: shutdown failed: {e.Message}");
            }
        }

        _setup?.Dispose();
        _tun?.Dispose();
    }
}
