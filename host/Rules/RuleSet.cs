using VirtualStack.Contracts.Flows;

namespace VirtualStack.Host.Rules;

/// <summary>The configured rules in order, and the default rule for what none of them claims.</summary>
internal sealed class RuleSet
{
    private readonly Rule[] _rules;

    public RuleSet(Rule[] rules, Rule fallback)
    {
        _rules = rules;
        Default = fallback;
    }

    public IReadOnlyList<Rule> Rules => _rules;

    /// <summary>The rule carrying unclaimed and unparseable traffic (its only stack is the configured Default).</summary>
    public Rule Default { get; }

    /// <summary>The first rule that claims the flow, else <see cref="Default"/>. Runs once per new flow.</summary>
    public Rule Find(in FlowKey flow)
    {
        foreach (Rule rule in _rules)
        {
            if (rule.Match.Matches(flow))
            {
                return rule;
            }
        }

        return Default;
    }
}
