using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Management;

/// <summary>
/// What the management interfaces (local socket, remote controller) act on: the rules and their policies, the flow
/// table (reached on the shard thread), the stacks, the policy plugins. It also runs the once-a-second housekeeping
/// of the decision: reporting policy errors (rate limited).
/// </summary>
internal sealed class ControlPlane : IAsyncDisposable
{
    private readonly TaskScheduler _loop;
    private readonly Timer _timer;
    private int _ticking;

    public ControlPlane(RuleSet rules, FlowManager flows, TaskScheduler loop, IReadOnlyList<StackRuntime> stacks, PluginCatalog catalog, Action<string> log)
    {
        Rules = rules;
        Flows = flows;
        _loop = loop;
        Stacks = stacks;
        Catalog = catalog;
        Log = log;
        Policies = rules.Rules.Select(r => r.Policy).OfType<RulePolicy>().ToArray();
        _timer = new Timer(_ => Tick());
    }

    public RuleSet Rules { get; }

    public FlowManager Flows { get; }

    public IReadOnlyList<StackRuntime> Stacks { get; }

    public PluginCatalog Catalog { get; }

    public Action<string> Log { get; }

    /// <summary>The configured rules' policies (the default rule has none to manage).</summary>
    public IReadOnlyList<RulePolicy> Policies { get; }

    public void Start() => _timer.Change(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    /// <summary>Runs <paramref name="work"/> on the shard thread, where the flow table and the engines live.</summary>
    public Task<T> OnLoop<T>(Func<T> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _loop);

    /// <summary>The rule named <paramref name="name"/> (case-insensitive) with its policy, or null.</summary>
    public RulePolicy? FindPolicy(string name) =>
        Policies.FirstOrDefault(p => p.Rule.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Once a second: policy errors are logged (each rule at most once per report period).</summary>
    internal void Tick()
    {
        if (Interlocked.Exchange(ref _ticking, 1) != 0)
        {
            return;
        }

        try
        {
            long now = Environment.TickCount64;
            foreach (RulePolicy policy in Policies)
            {
                policy.ReportErrors(now, Log);
            }
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync();
        Tick();
    }
}
