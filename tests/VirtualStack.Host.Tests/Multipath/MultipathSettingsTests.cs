using System.Text;
using Microsoft.Extensions.Configuration;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Tests.Multipath;

public sealed class MultipathSettingsTests
{
    private const string Example = """
        {
          "VirtualStack": {
            "Stacks": { "udp": { "Plugin": "Udp" }, "dccp": { "Plugin": "Dccp" }, "raw": { "Plugin": "Raw" } },
            "Rules": [
              { "Name": "spread", "Match": { "Protocol": "udp", "DestinationPort": 9000 },
                "Scheduler": "WeightedRoundRobin", "PathDownAfter": "00:00:00.2",
                "Paths": [
                  { "Name": "wired", "Stack": "udp", "To": "10.201.0.2:9000", "Interface": "to-srv1", "Weight": 3 },
                  { "Name": "radio", "Stack": "dccp", "To": "10.202.0.2:9001", "Interface": "to-srv2", "Weight": 1 }
                ] },
              { "Name": "plain", "Match": { "Protocol": "udp", "DestinationPort": 7 }, "Stacks": [ "udp" ],
                "Nat": { "udp": "10.201.0.2:7007" }, "Fallback": "10.202.0.2:7007", "FallbackAfter": "00:00:00.5" }
            ],
            "Default": "raw"
          }
        }
        """;

    [Fact]
    public void Reads_paths_scheduler_and_fallback()
    {
        VsSettings settings = Read(Example);
        RuleSettings spread = settings.Rules[0];

        Assert.True(spread.IsMultipath);
        Assert.Equal(PathScheduler.WeightedRoundRobin, spread.Scheduler);
        Assert.Equal(TimeSpan.FromMilliseconds(200), spread.PathDownAfter);
        Assert.Equal(["wired", "radio"], spread.Paths.Select(p => p.Name));
        Assert.Equal(["udp", "dccp"], spread.Paths.Select(p => p.Stack));
        Assert.Equal(NetEndpoint.TryParse("10.202.0.2:9001", out NetEndpoint to) ? to : default, spread.Paths[1].To);
        Assert.Equal("to-srv1", spread.Paths[0].Interface);
        Assert.Equal([3, 1], spread.Paths.Select(p => p.Weight));
        Assert.Equal(["udp", "dccp"], spread.Stacks);

        RuleSettings plain = settings.Rules[1];
        Assert.False(plain.IsMultipath);
        Assert.Empty(plain.Paths);
        Assert.Equal("10.202.0.2:7007", plain.Fallback.ToString());
        Assert.Equal(TimeSpan.FromMilliseconds(500), plain.FallbackAfter);
    }

    [Theory]
    [InlineData("LowestRtt", (int)PathScheduler.LowestRtt)]
    [InlineData("redundant", (int)PathScheduler.Redundant)]
    public void Scheduler_names_are_case_insensitive(string name, int expected) =>
        Assert.Equal((PathScheduler)expected, Read(Example.Replace("\"WeightedRoundRobin\"", $"\"{name}\"", StringComparison.Ordinal)).Rules[0].Scheduler);

    [Fact]
    public void Paths_without_To_Interface_Weight_take_the_defaults()
    {
        VsSettings settings = Read(Example.Replace(
            "{ \"Name\": \"radio\", \"Stack\": \"dccp\", \"To\": \"10.202.0.2:9001\", \"Interface\": \"to-srv2\", \"Weight\": 1 }",
            "{ \"Name\": \"radio\", \"Stack\": \"dccp\" }", StringComparison.Ordinal));
        PathSettings radio = settings.Rules[0].Paths[1];
        Assert.Null(radio.To);
        Assert.Null(radio.Interface);
        Assert.Equal(1, radio.Weight);
    }

    [Theory]
    [InlineData("\"Stack\": \"dccp\"", "\"Stack\": \"sctp\"", "VirtualStack:Rules:0:Paths:1:Stack")]
    [InlineData("\"Name\": \"radio\"", "\"Name\": \"wired\"", "VirtualStack:Rules:0:Paths:1:Name")]
    [InlineData("\"Name\": \"radio\"", "\"Name\": \"ra dio\"", "VirtualStack:Rules:0:Paths:1:Name")]
    [InlineData("\"To\": \"10.202.0.2:9001\"", "\"To\": \"10.202.0.2\"", "VirtualStack:Rules:0:Paths:1:To")]
    [InlineData("\"Weight\": 3", "\"Weight\": 0", "VirtualStack:Rules:0:Paths:0:Weight")]
    [InlineData("\"Weight\": 3", "\"Weight\": \"heavy\"", "VirtualStack:Rules:0:Paths:0:Weight")]
    [InlineData("\"Interface\": \"to-srv1\"", "\"Interface\": \"an-interface-name-too-long\"", "VirtualStack:Rules:0:Paths:0:Interface")]
    [InlineData("\"Interface\": \"to-srv1\"", "\"Egress\": \"to-srv1\"", "VirtualStack:Rules:0:Paths:0:Egress")]
    [InlineData("\"WeightedRoundRobin\"", "\"Fastest\"", "VirtualStack:Rules:0:Scheduler")]
    [InlineData("\"WeightedRoundRobin\"", "\"1\"", "VirtualStack:Rules:0:Scheduler")]
    [InlineData("\"PathDownAfter\": \"00:00:00.2\"", "\"PathDownAfter\": \"00:01:00\"", "VirtualStack:Rules:0:PathDownAfter")]
    [InlineData("\"PathDownAfter\": \"00:00:00.2\"", "\"PathDownAfter\": \"now\"", "VirtualStack:Rules:0:PathDownAfter")]
    [InlineData("\"Scheduler\": \"WeightedRoundRobin\"", "\"Stacks\": [ \"udp\" ]", "VirtualStack:Rules:0:Stacks")]
    [InlineData("\"Scheduler\": \"WeightedRoundRobin\"", "\"Policy\": \"TimedSwitch\"", "VirtualStack:Rules:0:Policy")]
    [InlineData("\"Scheduler\": \"WeightedRoundRobin\"", "\"Fallback\": \"10.202.0.2:9\"", "VirtualStack:Rules:0:Fallback")]
    [InlineData("\"Stacks\": [ \"udp\" ],", "\"Stacks\": [ \"udp\" ], \"Scheduler\": \"Redundant\",", "VirtualStack:Rules:1:Scheduler")]
    [InlineData("\"Fallback\": \"10.202.0.2:7007\"", "\"Fallback\": \"somewhere\"", "VirtualStack:Rules:1:Fallback")]
    [InlineData("\"Fallback\": \"10.202.0.2:7007\", ", "", "VirtualStack:Rules:1:FallbackAfter")]
    [InlineData("\"FallbackAfter\": \"00:00:00.5\"", "\"FallbackAfter\": \"-00:00:01\"", "VirtualStack:Rules:1:FallbackAfter")]
    public void Errors_name_the_key(string find, string replace, string key)
    {
        string json = Example.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(Example, json);

        var error = Assert.Throws<ConfigurationException>(() => Read(json));

        Assert.Equal(key, error.Key);
        Assert.False(string.IsNullOrWhiteSpace(error.Problem));
    }

    [Theory]
    [InlineData("\"Paths\": \"none\"", "VirtualStack:Rules:0:Paths")]
    [InlineData("\"Paths\": [ \"udp\" ]", "VirtualStack:Rules:0:Paths:0")]
    [InlineData("\"Paths\": [ { \"Name\": \"a\" } ]", "VirtualStack:Rules:0:Paths:0:Stack")]
    public void A_rule_needs_real_paths(string paths, string key)
    {
        string json = $$"""
            { "VirtualStack": { "Stacks": { "udp": { "Plugin": "Udp" }, "raw": { "Plugin": "Raw" } },
              "Rules": [ { "Name": "spread", {{paths}} } ] } }
            """;
        Assert.Equal(key, Assert.Throws<ConfigurationException>(() => Read(json)).Key);
    }

    private static VsSettings Read(string json) =>
        SettingsReader.Read(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build());
}
