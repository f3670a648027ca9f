using VirtualStack.Contracts.Plugins;

namespace VirtualStack.Plugins.Udp;

/// <summary>Registers the Udp plugin's contributions with the host.</summary>
public sealed class UdpPluginModule : IPluginModule
{
    /// <inheritdoc />
    public string Name => "Udp";

    /// <inheritdoc />
    public int AbiVersion => ContractInfo.AbiVersion;

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddStack(new UdpStackFactory());
    }
}
