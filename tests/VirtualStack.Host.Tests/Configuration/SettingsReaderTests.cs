using System.Text;
using Microsoft.Extensions.Configuration;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Tests.Configuration;

public sealed class SettingsReaderTests
{
    // The example of design.md §7, verbatim: it must keep working as written.
    private const string DesignExample = """
        {
          "VirtualStack": {
            "Tun": { "Name": "vs0", "Address": "10.200.0.1/24", "Address6": "fd00:200::1/64", "Mtu": 1500,
                     "Capture": [ "10.201.0.0/24", "fd00:201::/64" ] },
            "Plugins": { "Path": "plugins" },
            "Stacks": {
              "udp":  { "Plugin": "Udp" },
              "dccp": { "Plugin": "Dccp", "Ccid": 2, "Service": 0 },
              "raw":  { "Plugin": "Raw" }
            },
            "Rules": [
              { "Name": "echo", "Match": { "Protocol": "udp", "DestinationPort": 7 },
                "Stacks": [ "udp" ], "Nat": { "udp": "10.201.0.2:7007" } },
              { "Name": "telemetry", "Match": { "Protocol": "udp", "DestinationPort": 9000 },
                "Stacks": [ "udp", "dccp" ], "Policy": "TimedSwitch", "PolicyOptions": { "Period": "00:00:05" },
                "Nat": { "udp": "10.201.0.2:9000", "dccp": "10.201.0.2:9001" } }
            ],
            "Default": "raw",
            "Flows": { "MaxFlows": 100000, "UdpIdleTimeout": "00:01:00" },
            "Management": { "Socket": "/run/virtualstack/vs.sock" }
          }
        }
        """;

    [Fact]
    public void Reads_the_design_example()
    {
        VsSettings settings = Read(DesignExample);

        Assert.Equal("vs0", settings.Tun.Name);
        Assert.Equal(2, settings.Tun.Capture.Count);
        Assert.Equal(["dccp", "raw", "udp"], settings.Stacks.Select(s => s.Name).Order());
        Assert.Equal("2", settings.Stacks.Single(s => s.Name == "dccp").Options["Ccid"]);
        Assert.Equal(IpProtocols.Udp, settings.Rules[0].Match.Protocol);
        Assert.Equal((ushort)7, settings.Rules[0].Match.DestinationPort);
        Assert.Equal("TimedSwitch", settings.Rules[1].Policy);
        Assert.Equal("00:00:05", settings.Rules[1].PolicyOptions["Period"]);
        Assert.Equal("10.201.0.2:9001", settings.Rules[1].Nat["dccp"]);
        Assert.Equal(TimeSpan.FromMinutes(1), settings.Flows.Timeouts.Udp);
        Assert.Equal("/run/virtualstack/vs.sock", settings.ManagementSocket);
    }

    [Fact]
    public void The_embedded_default_is_valid()
    {
        VsSettings settings = SettingsReader.Read(ConfigurationLoader.Load(null, new Dictionary<string, string>()));
        Assert.Equal("raw", settings.Default);
        Assert.NotEmpty(settings.Rules);
    }

    [Theory]
    [InlineData("\"Mtu\": 1500", "\"Mtu\": 99", "VirtualStack:Tun:Mtu")]
    [InlineData("\"Name\": \"vs0\"", "\"Name\": \"this-name-is-too-long\"", "VirtualStack:Tun:Name")]
    [InlineData("\"10.201.0.0/24\"", "\"10.201.0.0/40\"", "VirtualStack:Tun:Capture:0")]
    [InlineData("\"DestinationPort\": 7", "\"DestinationPort\": 70000", "VirtualStack:Rules:0:Match:DestinationPort")]
    [InlineData("\"Protocol\": \"udp\", \"DestinationPort\": 7", "\"Protocol\": \"udpx\", \"DestinationPort\": 7", "VirtualStack:Rules:0:Match:Protocol")]
    [InlineData("\"Stacks\": [ \"udp\" ]", "\"Stacks\": [ \"nope\" ]", "VirtualStack:Rules:0:Stacks:0")]
    [InlineData("\"Default\": \"raw\"", "\"Default\": \"missing\"", "VirtualStack:Default")]
    [InlineData("\"UdpIdleTimeout\": \"00:01:00\"", "\"UdpIdleTimeout\": \"soon\"", "VirtualStack:Flows:UdpIdleTimeout")]
    [InlineData("\"Nat\": { \"udp\": \"10.201.0.2:7007\" }", "\"Nat\": { \"raw\": \"10.201.0.2:7007\" }", "VirtualStack:Rules:0:Nat:raw")]
    [InlineData("\"MaxFlows\": 100000", "\"MaxFlows\": 100000, \"MaxFlow\": 3", "VirtualStack:Flows:MaxFlow")]
    [InlineData("\"raw\":  { \"Plugin\": \"Raw\" }", "\"raw\":  { \"Kind\": \"Raw\" }", "VirtualStack:Stacks:raw:Plugin")]
    public void Errors_name_the_key_and_the_problem(string find, string replace, string key)
    {
        string json = DesignExample.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(DesignExample, json);

        var error = Assert.Throws<ConfigurationException>(() => Read(json));

        Assert.Equal(key, error.Key);
        Assert.False(string.IsNullOrWhiteSpace(error.Problem));
    }

    [Fact]
    public void Environment_and_command_line_override_the_file_without_the_root_prefix()
    {
        using var file = new TempFile(DesignExample);
        Environment.SetEnvironmentVariable("VS__Tun__Mtu", "1400");
        try
        {
            var overrides = new Dictionary<string, string> { ["Tun:Name"] = "vs7", ["VirtualStack:Flows:MaxFlows"] = "10" };
            VsSettings settings = SettingsReader.Read(ConfigurationLoader.Load(file.Path, overrides));

            Assert.Equal("vs7", settings.Tun.Name);
            Assert.Equal(1400, settings.Tun.Mtu);
            Assert.Equal(10, settings.Flows.MaxFlows);
        }
        finally
        {
            Environment.SetEnvironmentVariable("VS__Tun__Mtu", null);
        }
    }

    [Fact]
    public void A_missing_or_malformed_file_is_a_configuration_error()
    {
        Assert.Equal("--config", Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("/nonexistent/vs.json", new Dictionary<string, string>())).Key);
        using var file = new TempFile("{ \"VirtualStack\": { ");
        Assert.Contains("not valid JSON", Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(file.Path, new Dictionary<string, string>())).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Different_tun_names_get_different_marks_and_sockets()
    {
        VsSettings a = Read(DesignExample);
        VsSettings b = Read(DesignExample.Replace("\"Name\": \"vs0\"", "\"Name\": \"vs1\"", StringComparison.Ordinal)
            .Replace("\"Management\": { \"Socket\": \"/run/virtualstack/vs.sock\" }", "\"Management\": { }", StringComparison.Ordinal));

        Assert.NotEqual(a.Tun.Mark, b.Tun.Mark);
        Assert.NotEqual(a.Tun.Table, b.Tun.Table);
        Assert.NotEqual(a.ManagementSocket, b.ManagementSocket);
    }

    private static VsSettings Read(string json) =>
        SettingsReader.Read(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build());

    private sealed class TempFile : IDisposable
    {
        public TempFile(string content)
        {
            Path = System.IO.Path.GetTempFileName();
            File.WriteAllText(Path, content);
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }
}
