using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Nat;
using static VirtualStack.Plugins.Tests.Nat.NatTestData;

namespace VirtualStack.Plugins.Tests.Nat;

public sealed class NatFactoryTests
{
    private readonly NatFactory _factory = new();

    [Theory]
    [InlineData("10.201.0.2:7007", "10.201.0.2:7007")]
    [InlineData(" 10.201.0.2:7007 ", "10.201.0.2:7007")]
    [InlineData("[fd00:201::2]:7007", "[fd00:201::2]:7007")]
    [InlineData("10.202.0.2", "10.202.0.2:7")]          // keeps the port the application used
    [InlineData("fd00:202::2", "[fd00:202::2]:7")]
    [InlineData("[fd00:202::2]", "[fd00:202::2]:7")]
    [InlineData("::1", "[::1]:7")]                      // an IPv6 address, not a port
    [InlineData(":9000", "10.201.0.2:9000")]            // keeps the address
    [InlineData(":65535", "10.201.0.2:65535")]
    public void Each_form_of_entry_resolves_as_documented(string farEnd, string expected)
    {
        Assert.Null(_factory.Validate(Map(("udp", farEnd))));
        INat nat = _factory.Create(Map(("udp", farEnd)));
        Assert.Equal(At(expected), nat.Resolve(Flow, "udp"));
    }

    [Theory]
    [InlineData("", "the far end is empty")]
    [InlineData("   ", "the far end is empty")]
    [InlineData("10.201.0.2:70000", "'70000' is not a port")]
    [InlineData("10.201.0.2:0", "'0' is not a port")]
    [InlineData("10.201.0.2:", "'' is not a port")]
    [InlineData(":", "'' is not a port")]
    [InlineData(":http", "'http' is not a port")]
    [InlineData(":-1", "'-1' is not a port")]
    [InlineData("server.example:7", "'server.example' is not an IP address")]
    [InlineData("10.201.0.300", "'10.201.0.300' is not an IP address")]
    [InlineData("[10.201.0.2]:7", "only IPv6 addresses go in brackets")]
    [InlineData("[fd00::2:7", "'[' without a closing ']'")]
    [InlineData("[fd00::2]7", "unexpected '7' after ']'")]
    [InlineData("[fd00::2]:99999", "'99999' is not a port")]
    [InlineData("fe80::1%eth0", "is not an IP address")]
    public void A_bad_entry_is_refused_with_its_name_and_the_problem(string farEnd, string problem)
    {
        string? message = _factory.Validate(Map(("telemetry", "10.201.0.2:9000"), ("udp", farEnd)));

        Assert.NotNull(message);
        Assert.StartsWith($"entry 'udp' = '{farEnd}': ", message, StringComparison.Ordinal);
        Assert.Contains(problem, message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _factory.Create(Map(("udp", farEnd))));
    }

    [Fact]
    public void Entries_without_a_stack_name_or_naming_one_stack_twice_are_refused()
    {
        Assert.Contains("no stack name", _factory.Validate(Map(("", "10.0.0.1:1"))), StringComparison.Ordinal);
        Assert.Contains("name the same stack", _factory.Validate(Map(("udp", "10.0.0.1:1"), ("UDP", "10.0.0.2:1"))), StringComparison.Ordinal);
        Assert.Null(_factory.Validate(Map()));
    }

    [Fact]
    public void A_stack_without_an_entry_sends_where_the_application_addressed()
    {
        INat nat = _factory.Create(Map(("udp", "10.201.0.2:7007")));

        Assert.Equal(Flow.DestinationEndpoint, nat.Resolve(Flow, "dccp"));
        Assert.Equal(At("10.201.0.2:7007"), nat.Resolve(Flow, "UDP")); // stack names compare without case
    }

    [Fact]
    public void Retarget_moves_a_stack_and_adds_one_that_had_no_entry()
    {
        INat nat = _factory.Create(Map(("udp", ":7007"), ("dccp", "10.201.0.2:9001")));

        nat.Retarget("udp", At("10.202.0.2:8000"));
        nat.Retarget("raw", At("[fd00:202::9]:1"));

        Assert.Equal(At("10.202.0.2:8000"), nat.Resolve(Flow, "udp"));
        Assert.Equal(At("[fd00:202::9]:1"), nat.Resolve(Flow, "raw"));
        Assert.Equal(At("10.201.0.2:9001"), nat.Resolve(Flow, "dccp"));
        Assert.Throws<ArgumentException>(() => nat.Retarget(" ", At("10.0.0.1:1")));
        Assert.Throws<ArgumentNullException>(() => nat.Resolve(Flow, null!));
    }

    [Fact]
    public async Task Resolve_during_concurrent_retargets_always_sees_a_whole_far_end()
    {
        INat nat = _factory.Create(Map(("udp", "10.201.0.2:1")));
        var allowed = new HashSet<NetEndpoint>(Enumerable.Range(1, 1000).Select(i => new NetEndpoint(NetAddress.FromV4(0x0ac90000u + (uint)i), (ushort)i)))
        {
            At("10.201.0.2:1"),
        };
        using var stop = new CancellationTokenSource();
        Task writer = Task.Run(() =>
        {
            for (int round = 0; !stop.IsCancellationRequested; round++)
            {
                int i = (round % 1000) + 1;
                nat.Retarget("udp", new NetEndpoint(NetAddress.FromV4(0x0ac90000u + (uint)i), (ushort)i));
                nat.Retarget($"other{round % 7}", At("10.9.9.9:9"));
            }
        });

        var seen = new HashSet<NetEndpoint>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        for (int i = 0; i < 200_000 || (seen.Count < 10 && DateTime.UtcNow < until); i++)
        {
            seen.Add(nat.Resolve(Flow, "udp"));
        }

        stop.Cancel();
        await writer;
        Assert.Subset(allowed, seen);
        Assert.True(seen.Count > 1, "the reader never saw a retarget");
    }

    [Fact]
    public void Parsing_never_throws_and_every_endpoint_written_out_parses_back()
    {
        var random = new Random(20_240_611);
        const string Alphabet = "0123456789abcdef:.[]% x-";
        for (int i = 0; i < 20_000; i++)
        {
            char[] text = new char[random.Next(0, 24)];
            for (int c = 0; c < text.Length; c++)
            {
                text[c] = Alphabet[random.Next(Alphabet.Length)];
            }

            // Either valid, or a message naming the entry: never an exception.
            string? message = _factory.Validate(Map(("udp", new string(text))));
            Assert.True(message is null || message.StartsWith("entry 'udp'", StringComparison.Ordinal), message);
        }

        byte[] bytes = new byte[16];
        for (int i = 0; i < 2_000; i++)
        {
            random.NextBytes(bytes);
            NetAddress address = i % 2 == 0 ? NetAddress.Read(bytes.AsSpan(0, 4)) : NetAddress.Read(bytes);
            var endpoint = new NetEndpoint(address, (ushort)random.Next(1, 65_536));

            INat nat = _factory.Create(Map(("udp", endpoint.ToString()), ("a", address.IsV4 ? address.ToString() : $"[{address}]"), ("p", $":{endpoint.Port}")));

            Assert.Equal(endpoint, nat.Resolve(Flow, "udp"));
            Assert.Equal(new NetEndpoint(address, Flow.DestinationPort), nat.Resolve(Flow, "a"));
            Assert.Equal(new NetEndpoint(Flow.Destination, endpoint.Port), nat.Resolve(Flow, "p"));
        }
    }
}
