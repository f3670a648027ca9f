using VirtualStack.Contracts.Plugins;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Tests.Infrastructure;

/// <summary>Records what a plugin module registers.</summary>
internal sealed class TestRegistry : IPluginRegistry
{
    public List<IStackFactory> Stacks { get; } = [];

    public List<INatFactory> Nats { get; } = [];

    public void AddStack(IStackFactory factory) => Stacks.Add(factory);

    public void AddNat(INatFactory factory) => Nats.Add(factory);
}
