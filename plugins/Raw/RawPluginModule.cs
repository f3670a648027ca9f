using VirtualStack.Contracts.Plugins;

namespace VirtualStack.Plugins.Raw;

/// <summary>Registers the Raw plugin's contributions with the host.</summary>
public sealed class RawPluginModule : IPluginModule
{
    /// <inheritdoc />
    public string Name => "Raw";

    /// <inheritdoc />
    public int AbiVersion => ContractInfo.AbiVersion;

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddStack(new RawStackFactory());
    }
}
