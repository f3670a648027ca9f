using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Cli;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Remote;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Daemon;

/// <summary>Turns rule settings into runtime rules: stacks, policy and NAT. Validation runs before the system is touched.</summary>
internal static class RuleBuilder
{
    /// <summary>
    /// Checks what only the plugins can check (policies, NAT maps), without creating anything; and that the remote
    /// management address can be listened on, so that a wrong one fails here (exit 2 naming the key) rather than
    /// after the VNIC is up.
    /// </summary>
    public static void Validate(VsSettings settings, PluginCatalog catalog, IReadOnlyList<(StackSettings Settings, IStackFactory Factory)> stacks)
    {
        if (settings.RemoteManagement is { } remote && RemoteServer.Probe(remote) is { } unusable)
        {
            throw new ConfigurationException($"{SettingsReader.Root}:Management:Remote:Listen", unusable);
        }

        for (int i = 0; i < settings.Rules.Count; i++)
        {
            RuleSettings rule = settings.Rules[i];
            string key = $"{SettingsReader.Root}:Rules:{i}";
            if (rule.IsMultipath)
            {
                // The scheduler replaces the policy and each path names its far end: nothing a plugin must check.
                continue;
            }

            if (PolicyResolver.Check(catalog, rule.Name, rule.Stacks, rule.Policy, rule.PolicyOptions, out var factory, out _) is { } problem)
            {
                throw new ConfigurationException(factory is null ? $"{key}:Policy" : $"{key}:PolicyOptions", problem);
            }

            if (rule.Nat.Count == 0)
            {
                continue;
            }

            INatFactory nat = catalog.FindNat(rule.NatPlugin)
                ?? throw new ConfigurationException($"{key}:NatPlugin", $"no plugin provides a NAT '{rule.NatPlugin}' (is the Nat plugin in {catalog.Directory}?)");
            if (nat.Validate(rule.Nat) is { } natProblem)
            {
                throw new ConfigurationException($"{key}:Nat", natProblem);
            }
        }
    }

    public static RuleSet Build(VsSettings settings, PluginCatalog catalog, StackRuntime[] stacks, Action<string>? log = null)
    {
        log ??= ConsoleLog.Write;
        Action<string> logger = log;
        int nextIndex = stacks.Length;
        StackRuntime Find(string name) => stacks.First(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

        var rules = new Rule[settings.Rules.Count];
        try
        {
            for (int i = 0; i < rules.Length; i++)
            {
                RuleSettings rule = settings.Rules[i];
                string key = $"{SettingsReader.Root}:Rules:{i}";
                if (rule.IsMultipath)
                {
                    rules[i] = BuildMultipath(rule, key, Find, nextIndex++, logger);
                    continue;
                }

                foreach (string natStack in rule.Nat.Keys)
                {
                    if (Find(natStack).Carries == StackCarries.Packet)
                    {
                        throw new ConfigurationException($"{key}:Nat:{natStack}",
                            $"stack '{natStack}' carries whole packets unchanged and cannot be re-addressed; NAT applies to payload stacks such as udp");
                    }
                }

                StackRuntime[] ruleStacks = rule.Stacks.Select(Find).ToArray();
                string[] stackNames = ruleStacks.Select(s => s.Name).ToArray();
                PolicyBinding binding = PolicyResolver.TryCreate(catalog, rule.Name, stackNames, rule.Policy, rule.PolicyOptions, log, 1, out string? problem)
                    ?? throw new ConfigurationException($"{key}:Policy", problem!);
                INat? nat = rule.Nat.Count == 0 ? null : catalog.FindNat(rule.NatPlugin)!.Create(rule.Nat);
                rules[i] = new Rule(rule.Name, rule.Match, ruleStacks, new RulePolicy(rule.Name, stackNames, binding), nat, rule.IdleTimeout)
                {
                    Fallback = rule.Fallback,
                    FallbackAfterMs = (long)rule.FallbackAfter.TotalMilliseconds,
                };
            }
        }
        catch
        {
            foreach (Rule? built in rules)
            {
                (built?.Policy as IDisposable)?.Dispose();
                built?.Multipath?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            throw;
        }

        var fallback = new Rule("default", RuleMatch.Any, [Find(settings.Default)], FirstStackPolicy.Instance, null, null);
        return new RuleSet(rules, fallback);
    }

    /// <summary>
    /// A rule with Paths: one <see cref="MultipathStack"/> over the paths' stacks, seen by the pipeline as the
    /// rule's only stack (an extra runtime numbered after the configured stacks).
    /// </summary>
    private static Rule BuildMultipath(RuleSettings rule, string key, Func<string, StackRuntime> find, int index, Action<string> log)
    {
        LinkMonitor? links = rule.Paths.Any(p => p.Interface is not null) ? new LinkMonitor(log) : null;
        var paths = new PathDefinition[rule.Paths.Count];
        for (int p = 0; p < paths.Length; p++)
        {
            PathSettings path = rule.Paths[p];
            StackRuntime runtime = find(path.Stack);
            if (runtime.Carries == StackCarries.Packet)
            {
                links?.Dispose();
                throw new ConfigurationException($"{key}:Paths:{p}:Stack",
                    $"stack '{path.Stack}' carries whole packets unchanged and cannot be sent to a path's far end; paths use payload stacks such as udp or dccp");
            }

            paths[p] = new PathDefinition(path.Name, runtime, path.To, path.Interface is { } device ? links!.Watch(device) : null, path.Weight);
        }

        var stack = new MultipathStack(rule.Name, paths, rule.Scheduler, rule.PathDownAfter, rule.ProbeInterval, links, log) { SequenceTag = rule.SequenceTag };
        var runtimeOfRule = new StackRuntime(index, stack.Name, "Multipath", stack);
        return new Rule(rule.Name, rule.Match, [runtimeOfRule], FirstStackPolicy.Instance, null, rule.IdleTimeout) { Multipath = stack };
    }
}
