using VirtualStack.Contracts.Plugins;

namespace VirtualStack.Plugins.Nat;

/// <summary>Registers the Nat plugin's contributions with the host.</summary>
public sealed class NatPluginModule : IPluginModule
{
    /// <inheritdoc />
    public string Name => "Nat";

    /// <inheritdoc />
    public int AbiVersion => ContractInfo.AbiVersion;

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddNat(new NatFactory());
    }
}
