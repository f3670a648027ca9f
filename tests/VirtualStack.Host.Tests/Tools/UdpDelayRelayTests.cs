using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Host.Tools;

namespace VirtualStack.Host.Tests.Tools;

/// <summary>
/// <see cref="UdpDelayRelay"/> on loopback, between a client socket and an echo socket of the test: the round trip
/// through it is 2 x delay (never less; a loaded machine may add to it), settings change while it runs, and loss
/// drops what it says.
/// </summary>
public sealed class UdpDelayRelayTests : IDisposable
{
    private readonly Socket _echo = Bound();
    private readonly Socket _client = Bound();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _echoing;

    public UdpDelayRelayTests()
    {
        // The jitter test's burst (about 280 datagrams reach the echo) overflows a default receive buffer (208 KiB
        // holds 256 small loopback datagrams) whenever its reader is descheduled for a moment on a loaded machine, and
        // a datagram the kernel drops there is lost without the relay counting it (seen: 8-23 a run, matching the
        // kernel's Udp RcvbufErrors).
        SocketBuffers.Enlarge(_echo, receive: true);
        SocketBuffers.Enlarge(_client, receive: true);
        _client.ReceiveTimeout = 2000;

        // Its own thread, not the thread pool: with the test classes running in parallel, a pool task may start only
        // after the client's receive timeout, and nothing comes back before it does.
        _echoing = new Thread(Echo) { IsBackground = true, Name = "udp-delay test echo" };
        _echoing.Start();
    }

    [Fact]
    public void The_round_trip_through_the_relay_is_twice_the_delay_and_follows_a_change()
    {
        using var relay = Relay(delayMs: 10);
        double[] before = RoundTrips(relay, 20);
        Assert.Equal("delay 30 ms, jitter 0 ms, loss 0 % each way", relay.Apply("delay 30"));
        double[] after = RoundTrips(relay, 20);

        // Never early: a datagram is held for at least the delay each way.
        Assert.True(before.Min() >= 20, $"round trips with 10 ms each way: min {before.Min():F2} ms");
        Assert.True(after.Min() >= 60, $"round trips with 30 ms each way: min {after.Min():F2} ms");

        // The median is the delay plus the sleep's rounding (under 1 ms each way) and the scheduler: on a quiet
        // machine 20.5 and 60.5 ms; a loaded one may add a few milliseconds, not tens.
        Assert.InRange(Median(before), 20, 30);
        Assert.InRange(Median(after), 60, 70);
        Assert.Equal(40, relay.Forwarded);
        Assert.Equal(40, relay.Returned);
    }

    [Fact]
    public void Jitter_keeps_the_order_and_loss_drops_about_its_share()
    {
        using var relay = Relay(delayMs: 1);
        relay.Apply("jitter 3");
        relay.Apply("loss 30");
        const int Count = 400;
        for (int i = 0; i < Count; i++)
        {
            _client.SendTo(BitConverter.GetBytes(i), relay.Listen.ToIPEndPoint());
        }

        var received = new List<int>();
        var buffer = new byte[64];
        _client.ReceiveTimeout = 500;
        try
        {
            while (true)
            {
                int length = _client.Receive(buffer);
                Assert.Equal(4, length);
                received.Add(BitConverter.ToInt32(buffer, 0));
            }
        }
        catch (SocketException)
        {
            // Quiet for 500 ms: everything came back.
        }

        // Each datagram passes twice (there and back), each time kept with probability 0.7: 49 % of 400 = 196,
        // sigma 10; 150-240 is over 4 sigma either way yet fails for no loss (400) or one-way loss (280).
        string counts = $"received {received.Count}; the relay forwarded {relay.Forwarded}, returned {relay.Returned}, dropped {relay.Dropped}";
        Assert.True(received.Count is >= 150 and <= 240, counts);
        Assert.Equal(received.Order(), received);

        // Everything not received was dropped by the relay: no datagram lost anywhere else (a socket buffer).
        Assert.True(Count - received.Count == relay.Dropped, counts);
    }

    [Fact]
    public void A_control_line_it_does_not_know_is_refused()
    {
        using var relay = Relay(delayMs: 0);
        Assert.Throws<FormatException>(() => relay.Apply("delay"));
        Assert.Throws<FormatException>(() => relay.Apply("delay -1"));
        Assert.Throws<FormatException>(() => relay.Apply("loss 101"));
        Assert.Throws<FormatException>(() => relay.Apply("rate 10"));
        Assert.Equal("delay 2.5 ms, jitter 0 ms, loss 0 % each way", relay.Apply("delay 2.5ms"));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _echo.Dispose();
        _client.Dispose();
        _echoing.Join(TimeSpan.FromSeconds(2));
        _stop.Dispose();
    }

    private UdpDelayRelay Relay(double delayMs)
    {
        // A free port: bind one, let it go, hand it to the relay (loopback; a race with another test is harmless here).
        int port;
        using (Socket probe = Bound())
        {
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var relay = new UdpDelayRelay(new NetEndpoint(NetAddress.Parse("127.0.0.1"), (ushort)port),
            new NetEndpoint(NetAddress.Parse("127.0.0.1"), (ushort)((IPEndPoint)_echo.LocalEndPoint!).Port));
        relay.Set(delayMs: delayMs);
        relay.Start();
        return relay;
    }

    private double[] RoundTrips(UdpDelayRelay relay, int count)
    {
        var times = new double[count];
        var buffer = new byte[64];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _client.SendTo(BitConverter.GetBytes(i), relay.Listen.ToIPEndPoint());
            int length = _client.Receive(buffer);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Assert.Equal(i, BitConverter.ToInt32(buffer, 0));
            Assert.Equal(4, length);
        }

        return times;
    }

    private static double Median(double[] values) => values.Order().ElementAt(values.Length / 2);

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private void Echo()
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            try
            {
                int length = _echo.ReceiveFrom(buffer, ref from);
                _echo.SendTo(buffer.AsSpan(0, length), SocketFlags.None, from);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }
}
