using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Daemon;

/// <summary>Turns rule settings into runtime rules: stacks, policy and NAT. Validation runs before the system is touched.</summary>
internal static class RuleBuilder
{
    /// <summary>Checks what only the plugins can check (NAT maps), and the policies, without creating anything.</summary>
    public static void Validate(VsSettings settings, PluginCatalog catalog, IReadOnlyList<(StackSettings Settings, IStackFactory Factory)> stacks)
    {
        for (int i = 0; i < settings.Rules.Count; i++)
        {
            RuleSettings rule = settings.Rules[i];
            string key = $"{SettingsReader.Root}:Rules:{i}";
            PolicyFactory.Create(rule, key);
            if (rule.Nat.Count == 0)
            {
                continue;
            }

            INatFactory nat = catalog.FindNat(rule.NatPlugin)
                ?? throw new ConfigurationException($"{key}:NatPlugin", $"no plugin provides a NAT '{rule.NatPlugin}' (is the Nat plugin in {catalog.Directory}?)");
            if (nat.Validate(rule.Nat) is { } problem)
            {
                throw new ConfigurationException($"{key}:Nat", problem);
            }
        }
    }

    public static RuleSet Build(VsSettings settings, PluginCatalog catalog, StackRuntime[] stacks)
    {
        StackRuntime Find(string name) => stacks.First(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

        var rules = new Rule[settings.Rules.Count];
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

            INat? nat = rule.Nat.Count == 0 ? null : catalog.FindNat(rule.NatPlugin)!.Create(rule.Nat);
            rules[i] = new Rule(rule.Name, rule.Match, rule.Stacks.Select(Find).ToArray(), PolicyFactory.Create(rule, key), nat, rule.IdleTimeout);
        }

        var fallback = new Rule("default", RuleMatch.Any, [Find(settings.Default)], StaticPolicy.Instance, null, null);
        return new RuleSet(rules, fallback);
    }
}
