using VirtualStack.Contracts.Plugins;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Tool;

namespace VirtualStack.Plugins.Dccp;

/// <summary>Registers the Dccp plugin's contributions with the host.</summary>
public sealed class DccpPluginModule : IPluginModule
{
    /// <inheritdoc />
    public string Name => "Dccp";

    /// <inheritdoc />
    public int AbiVersion => ContractInfo.AbiVersion;

    /// <inheritdoc />
    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddStack(new DccpStackFactory());
        registry.AddCommand(new DccpToolCommand());
    }
}
