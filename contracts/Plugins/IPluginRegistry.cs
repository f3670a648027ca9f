using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Contracts.Plugins;

/// <summary>What a plugin module adds to the host while it registers.</summary>
public interface IPluginRegistry
{
    /// <summary>Adds a stack type; configuration selects it by <see cref="IStackFactory.Name"/>.</summary>
    void AddStack(IStackFactory factory);

    /// <summary>Adds a NAT implementation; configuration selects it by <see cref="INatFactory.Name"/>.</summary>
    void AddNat(INatFactory factory);
}
