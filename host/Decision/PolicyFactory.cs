using System.Globalization;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Decision;

/// <summary>Creates a rule's policy from its configuration (built-in policies; plugin policies come with issue 4).</summary>
internal static class PolicyFactory
{
    public static readonly string[] Known = ["Static", "TimedSwitch"];

    public static IFlowPolicy Create(RuleSettings rule, string key)
    {
        switch (rule.Policy.ToLowerInvariant())
        {
            case "static":
                return StaticPolicy.Instance;
            case "timedswitch":
                string? text = rule.PolicyOptions.TryGetValue("Period", out string? p) ? p : null;
                if (text is null || !TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan period) || period <= TimeSpan.Zero)
                {
                    throw new ConfigurationException($"{key}:PolicyOptions:Period", $"'{text}' is not a positive time span like 00:00:05 (TimedSwitch needs it)");
                }

                return new TimedSwitchPolicy(period, rule.Stacks.Count);
            default:
                throw new ConfigurationException($"{key}:Policy", $"unknown policy '{rule.Policy}' (known: {string.Join(", ", Known)})");
        }
    }
}
