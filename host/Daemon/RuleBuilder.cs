using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Cli;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Decision;
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
        StackRuntime Find(string name) => stacks.First(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

        var rules = new Rule[settings.Rules.Count];
        try
        {
            for (int i = 0; i < rules.Length; i++)
            {
                RuleSettings rule = settings.Rules[i];
                string key = $"{SettingsReader.Root}:Rules:{i}";
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
                rules[i] = new Rule(rule.Name, rule.Match, ruleStacks, new RulePolicy(rule.Name, stackNames, binding), nat, rule.IdleTimeout);
            }
        }
        catch
        {
            foreach (Rule? built in rules)
            {
                (built?.Policy as IDisposable)?.Dispose();
            }

            throw;
        }

        var fallback = new Rule("default", RuleMatch.Any, [Find(settings.Default)], FirstStackPolicy.Instance, null, null);
        return new RuleSet(rules, fallback);
    }
}
