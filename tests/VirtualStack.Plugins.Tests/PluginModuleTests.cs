using VirtualStack.Contracts.Plugins;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Nat;
using VirtualStack.Plugins.Raw;
using VirtualStack.Plugins.Tests.Infrastructure;
using VirtualStack.Plugins.Udp;

namespace VirtualStack.Plugins.Tests;

public sealed class PluginModuleTests
{
    [Fact]
    public void Each_module_registers_its_factory_under_the_name_configuration_uses()
    {
        var registry = new TestRegistry();
        IPluginModule[] modules = [new UdpPluginModule(), new RawPluginModule(), new NatPluginModule()];
        foreach (IPluginModule module in modules)
        {
            Assert.Equal(ContractInfo.AbiVersion, module.AbiVersion);
            module.Register(registry);
        }

        Assert.Equal(["Udp", "Raw"], registry.Stacks.Select(s => s.Name));
        Assert.Equal("Nat", Assert.Single(registry.Nats).Name);
        Assert.Equal(["Udp", "Raw", "Nat"], modules.Select(m => m.Name));
        Assert.All(registry.Stacks, s => Assert.False(string.IsNullOrWhiteSpace(s.Description)));
    }

    [Theory]
    [InlineData("Udp")]
    [InlineData("Raw")]
    public void Stack_options_are_validated_with_the_option_named(string plugin)
    {
        IStackFactory factory = plugin == "Udp" ? new UdpStackFactory() : new RawStackFactory();

        Assert.Null(factory.Validate(Loopback.Options("s", plugin)));
        Assert.Null(factory.Validate(Loopback.Options("s", plugin, ("socketbuffer", "0"), ("SendBatch", "128"))));

        string? unknown = factory.Validate(Loopback.Options("s", plugin, ("SendBach", "8")));
        Assert.Contains("unknown option 'SendBach'", unknown, StringComparison.Ordinal);
        Assert.Contains("SendBatch", unknown, StringComparison.Ordinal);

        string? notNumber = factory.Validate(Loopback.Options("s", plugin, ("SendBatch", "many")));
        Assert.StartsWith("SendBatch: 'many' is not an integer", notNumber, StringComparison.Ordinal);

        string? outOfRange = factory.Validate(Loopback.Options("s", plugin, ("SocketBuffer", "-1")));
        Assert.StartsWith("SocketBuffer: -1 is out of range", outOfRange, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => factory.Create(Loopback.Options("s", plugin, ("SendBatch", "0")), new TestStackHost()));
    }

    [Fact]
    public void Udp_takes_a_receive_batch_and_raw_does_not()
    {
        Assert.Null(new UdpStackFactory().Validate(Loopback.Options("udp", "Udp", ("ReceiveBatch", "8"))));
        Assert.NotNull(new RawStackFactory().Validate(Loopback.Options("raw", "Raw", ("ReceiveBatch", "8"))));
        Assert.NotNull(new UdpStackFactory().Validate(Loopback.Options("udp", "Udp", ("ReceiveBatch", "0"))));
    }
}
