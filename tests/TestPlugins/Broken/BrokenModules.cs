using VirtualStack.Contracts.Plugins;

namespace VirtualStack.TestPlugins.Broken;

/// <summary>A module whose constructor throws: the host must report it by name and load the others.</summary>
public sealed class ThrowingModule : IPluginModule
{
    public ThrowingModule() => throw new InvalidOperationException("constructor refuses to run");

    public string Name => "Throwing";

    public int AbiVersion => ContractInfo.AbiVersion;

    public void Register(IPluginRegistry registry)
    {
    }
}

/// <summary>A module built against another contract version.</summary>
public sealed class WrongAbiModule : IPluginModule
{
    public string Name => "WrongAbi";

    public int AbiVersion => ContractInfo.AbiVersion + 41;

    public void Register(IPluginRegistry registry)
    {
    }
}
