using VirtualStack.Contracts.Plugins;

namespace VirtualStack.Plugins.Policies;

/// <summary>The decision policies that come with VirtualStack: Static, TimedSwitch, RuleBased, MeasurementDriven.</summary>
public sealed class PoliciesPluginModule : IPluginModule
{
    /// <inheritdoc />
    public string Name => "Policies";

    /// <inheritdoc />
    public int AbiVersion => ContractInfo.AbiVersion;

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddPolicy(new StaticPolicyFactory());
        registry.AddPolicy(new TimedSwitchPolicyFactory());
        registry.AddPolicy(new RuleBasedPolicyFactory());
        registry.AddPolicy(new MeasurementDrivenPolicyFactory());
    }
}
