using VirtualStack.Contracts.Policies;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Contracts.Plugins;

/// <summary>What a plugin module adds to the host while it registers.</summary>
public interface IPluginRegistry
{
    /// <summary>Adds a stack type; configuration selects it by <see cref="IStackFactory.Name"/>.</summary>
    void AddStack(IStackFactory factory);

    /// <summary>Adds a NAT implementation; configuration selects it by <see cref="INatFactory.Name"/>.</summary>
    void AddNat(INatFactory factory);

    /// <summary>
    /// Adds a decision policy; a rule selects it by <see cref="IPolicyFactory.Name"/> (<c>Rules[i].Policy</c>).
    /// The default body only keeps registries written before policies were plugins compiling; the host implements it.
    /// </summary>
    void AddPolicy(IPolicyFactory factory) =>
        throw new NotSupportedException($"this host does not take policy plugins ('{factory?.Name}')");

    /// <summary>
    /// Adds a <c>vs</c> subcommand (<see cref="IPluginCommand.Name"/>). The default body only keeps registries written
    /// before plugins could add commands compiling; the host implements it.
    /// </summary>
    void AddCommand(IPluginCommand command) =>
        throw new NotSupportedException($"this host does not take plugin commands ('{command?.Name}')");
}
