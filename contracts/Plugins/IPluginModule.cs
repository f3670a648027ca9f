namespace VirtualStack.Contracts.Plugins;

/// <summary>
/// Entry point of a plugin assembly. The host creates every public non-abstract type implementing this
/// interface with its parameterless constructor and calls <see cref="Register"/> once.
/// </summary>
public interface IPluginModule
{
    /// <summary>The plugin's name, as configuration refers to it (for example <c>Udp</c>).</summary>
    string Name { get; }

    /// <summary>The ABI the plugin was built against; return <see cref="ContractInfo.AbiVersion"/>.</summary>
    int AbiVersion { get; }

    /// <summary>Adds what the plugin provides (stacks, NAT, policies) to the host.</summary>
    void Register(IPluginRegistry registry);
}
