using Microsoft.Extensions.Configuration;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Remote;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Remote;

/// <summary>Management.Remote: its keys, the key's forms, and errors that name the key.</summary>
public sealed class RemoteSettingsTests
{
    private const string Hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    private static RemoteSettings? Read(params (string Key, string Value)[] values)
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>($"VirtualStack:Management:Remote:{v.Key}", v.Value)))
            .Build();
        return RemoteSettings.Read(configuration.GetSection("VirtualStack:Management:Remote"));
    }

    [Fact]
    public void Reads_the_address_the_key_in_any_form_and_the_skew()
    {
        RemoteSettings settings = Read(("Listen", "10.201.0.1:7700"), ("Key", Hex), ("MaxSkew", "00:00:05"))!;
        Assert.Equal("10.201.0.1:7700", settings.Listen.ToString());
        Assert.Equal(32, settings.Key.Length);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.MaxSkew);
        Assert.Equal(settings.Key, Read(("Listen", "[fd00:201::1]:7700"), ("Key", "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="))!.Key);

        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("key"), Hex + "\n");
        Assert.Equal(settings.Key, Read(("Listen", "10.201.0.1:7700"), ("KeyFile", dir.Combine("key")))!.Key);
        Assert.Equal(TimeSpan.FromSeconds(30), Read(("Listen", "10.201.0.1:7700"), ("Key", Hex))!.MaxSkew);
        Assert.Null(Read());
    }

    [Theory]
    [InlineData("Listen", "10.201.0.1", "Key", Hex, "VirtualStack:Management:Remote:Listen")]
    [InlineData("Listen", "10.201.0.1:7700", "Key", "00112233", "VirtualStack:Management:Remote:Key: 4 bytes is too short")]
    [InlineData("Listen", "10.201.0.1:7700", "Key", "not a key!", "VirtualStack:Management:Remote:Key: not a key")]
    [InlineData("Listen", "10.201.0.1:7700", "Secret", Hex, "VirtualStack:Management:Remote:Secret: unknown key")]
    [InlineData("Listen", "10.201.0.1:7700", "KeyFile", "/nonexistent/key", "VirtualStack:Management:Remote:KeyFile: cannot read")]
    public void Errors_name_the_key(string k1, string v1, string k2, string v2, string message)
    {
        var error = Assert.Throws<ConfigurationException>(() => Read((k1, v1), (k2, v2)));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Needs_exactly_one_of_Key_and_KeyFile()
    {
        Assert.Throws<ConfigurationException>(() => Read(("Listen", "10.201.0.1:7700")));
        Assert.Throws<ConfigurationException>(() => Read(("Listen", "10.201.0.1:7700"), ("Key", Hex), ("KeyFile", "/x")));
    }
}
