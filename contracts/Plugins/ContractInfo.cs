namespace VirtualStack.Contracts.Plugins;

/// <summary>Version of the plugin ABI that this contracts assembly defines.</summary>
/// <remarks>
/// The host refuses a plugin whose <see cref="IPluginModule.AbiVersion"/> differs: a plugin compiled against
/// another ABI would otherwise fail later with a <see cref="MissingMethodException"/> on the data path.
/// Bump it on every breaking change of any type in this assembly.
/// </remarks>
public static class ContractInfo
{
    /// <summary>The ABI version of this build of the contracts.</summary>
    public const int AbiVersion = 1;
}
