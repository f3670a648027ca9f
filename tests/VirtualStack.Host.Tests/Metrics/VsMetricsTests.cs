using System.Diagnostics.Metrics;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Management;
using VirtualStack.Host.Metrics;
using VirtualStack.Host.Tests.Infrastructure;
using VirtualStack.Host.Tests.Policies;
using VirtualStack.Host.Tests.Switching;

namespace VirtualStack.Host.Tests.Metrics;

/// <summary>
/// The "VirtualStack" meter as a listener sees it (the way dotnet-counters and OpenTelemetry exporters read it):
/// pipeline, per-stack and per-flow counters, the current stack, switches and their delays, policy errors, and what a
/// measuring stack reports (RTT, window) reaching both the metrics and the rule's policy.
/// </summary>
[Collection(SwitchMeterCollection.Name)]
public sealed class VsMetricsTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    [Fact]
    public async Task A_listener_sees_pipeline_stack_and_flow_counters_switches_and_stack_measurements()
    {
        var policy = new ScriptedPolicy { Choice = 0 };
        var measuring = new MeasuringStack("udpB");
        await using var harness = new PipelineHarness(policy, second: null);
        await using var measured = new PipelineHarness(new ScriptedPolicy { Choice = 1 }, second: measuring);
        await using var control = new ControlPlane(harness.Flows.Rules, harness.Flows, harness.Loop, harness.Runtimes, plugins.Catalog, _ => { });
        await using var measuredControl = new ControlPlane(measured.Flows.Rules, measured.Flows, measured.Loop, measured.Runtimes, plugins.Catalog, _ => { });
        using var metrics = new VsMetrics(harness.Counters, harness.Runtimes, () => control.LastFlows, () => harness.Flows.Table.Count, control.Policies, () => null);
        using var measuredMetrics = new VsMetrics(measured.Counters, measured.Runtimes, () => measuredControl.LastFlows, () => measured.Flows.Table.Count, measuredControl.Policies, () => null);
        using var listener = new Recorder(metrics.Meter, measuredMetrics.Meter);

        await harness.Feed(PipelineHarness.Numbered(0, 30));
        policy.Choice = 1;
        await harness.Feed(PipelineHarness.Numbered(30, 20));
        policy.Throw = new InvalidOperationException("broken");
        await harness.Feed(PipelineHarness.Numbered(50, 5));
        await control.SampleAsync();
        await measured.Feed(PipelineHarness.Numbered(0, 10));
        await measuredControl.SampleAsync();
        listener.Collect();

        Assert.Equal(55, listener.Long(metrics.Meter, "virtualstack.packets", ("direction", "in")));
        Assert.Equal(55, listener.Long(metrics.Meter, "virtualstack.packets", ("direction", "sent")));
        Assert.Equal(0, listener.Long(metrics.Meter, "virtualstack.drops", ("reason", "stack_not_ready")));
        Assert.Equal(30, listener.Long(metrics.Meter, "virtualstack.stack.packets", ("stack", "udpA"), ("direction", "sent")));
        Assert.Equal(25, listener.Long(metrics.Meter, "virtualstack.stack.packets", ("stack", "udpB"), ("direction", "sent")));
        Assert.Equal(1, listener.Long(metrics.Meter, "virtualstack.flows.active"));
        Assert.Equal(55, listener.Long(metrics.Meter, "virtualstack.flow.packets", ("flow.id", 1L), ("rule", "test")));
        Assert.Equal(1, listener.Long(metrics.Meter, "virtualstack.flow.switches", ("flow.id", 1L)));
        Assert.Equal(1, listener.Long(metrics.Meter, "virtualstack.flow.stack", ("flow.id", 1L), ("stack", "udpB")));
        Assert.Equal(5, listener.Long(metrics.Meter, "virtualstack.policy.errors", ("rule", "test"), ("policy", "Test")));
        Assert.Contains(listener.Seen(metrics.Meter, "virtualstack.flow.packets"), tags => tags.Any(t => t.Key == "flow" && (string)t.Value! == "udp 10.200.0.1:5000->10.201.0.2:9000"));

        // The stack that measures its flows: the values reach the metrics and, as a Stack measurement, the policy.
        Assert.Equal(12.5, listener.Double(measuredMetrics.Meter, "virtualstack.flow.rtt", ("stack", "udpB")));
        Assert.Equal(8, listener.Double(measuredMetrics.Meter, "virtualstack.flow.cwnd", ("stack", "udpB")));
        var scripted = (ScriptedPolicy)measured.Policy.Binding.Policy;
        Assert.Contains(scripted.Observed, m => m.HasFlow && m.Source == MeasurementSource.Stack && m.Values.RttMs == 12.5 && m.StackName == "udpB");

        // Switch delays and build times are recorded as they happen.
        Assert.Contains(listener.Recorded(), h => h.Name == "virtualstack.switch.delay" && h.Stack == "udpB" && h.Value >= 0);
        Assert.Contains(listener.Recorded(), h => h.Name == "virtualstack.stack.build_time" && h.Stack == "udpA");
    }

    [Fact]
    public async Task A_flows_drops_are_published_by_reason()
    {
        var gated = new RecordingStack("udpB") { OpenGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        // No holding: the new flow's packets before its stack is ready are dropped, which is what is published here.
        await using var harness = new PipelineHarness(new ScriptedPolicy { Choice = 1 }, second: gated, holdPackets: 0);
        await using var control = new ControlPlane(harness.Flows.Rules, harness.Flows, harness.Loop, harness.Runtimes, plugins.Catalog, _ => { });
        using var metrics = new VsMetrics(harness.Counters, harness.Runtimes, () => control.LastFlows, () => harness.Flows.Table.Count, control.Policies, () => null);
        using var listener = new Recorder(metrics.Meter);

        await harness.Feed(PipelineHarness.Numbered(0, 4));
        gated.OpenGate.SetResult();
        await control.SampleAsync();
        listener.Collect();

        Assert.Equal(4, listener.Long(metrics.Meter, "virtualstack.flow.drops", ("flow.id", 1L), ("rule", "test"), ("reason", "stack_not_ready")));
        Assert.Equal(4, listener.Long(metrics.Meter, "virtualstack.drops", ("reason", "stack_not_ready")));
    }

    [Fact]
    public async Task The_sampler_reports_each_rules_throughput_per_stack_to_its_policy()
    {
        var policy = new ScriptedPolicy { Choice = 0 };
        await using var harness = new PipelineHarness(policy);
        await using var control = new ControlPlane(harness.Flows.Rules, harness.Flows, harness.Loop, harness.Runtimes, plugins.Catalog, _ => { });
        await harness.Feed(PipelineHarness.Numbered(0, 10));
        await control.SampleAsync();
        await harness.Feed(PipelineHarness.Numbered(10, 10));
        await Task.Delay(200);
        await control.SampleAsync();

        // RecordingStack counts packets, not bytes: the stack flow's own stats decide what the policy hears.
        Measurement throughput = Assert.Single(policy.Observed, m => !m.HasFlow);
        Assert.Equal(0, throughput.Stack);
        Assert.Equal(MeasurementSource.Stack, throughput.Source);
        Assert.NotNull(throughput.Values.ThroughputBitsPerSecond);
    }

    /// <summary>Listens to the given meters (and the process-wide switch meter) and keeps the last value of each series.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<(Meter Meter, string Name), List<(double Value, KeyValuePair<string, object?>[] Tags)>> _values = [];
        private readonly List<(string Name, string? Stack, double Value)> _histogram = [];

        public Recorder(params Meter[] meters)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (meters.Contains(instrument.Meter) || instrument.Meter == SwitchMetrics.Meter)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        /// <summary>
        /// A copy of the histogram records, taken under their lock: switches and builds are recorded on the pipelines'
        /// loop threads, which may still add to the list while the test looks at it (before the tests here ran alone,
        /// other tests' pipelines did: "Collection was modified").
        /// </summary>
        public (string Name, string? Stack, double Value)[] Recorded()
        {
            lock (_histogram)
            {
                return [.. _histogram];
            }
        }

        public void Collect()
        {
            lock (_values)
            {
                _values.Clear();
            }

            _listener.RecordObservableInstruments();
        }

        public IEnumerable<KeyValuePair<string, object?>[]> Seen(Meter meter, string name)
        {
            lock (_values)
            {
                return _values.TryGetValue((meter, name), out var list) ? list.Select(x => x.Tags).ToArray() : [];
            }
        }

        public long Long(Meter meter, string name, params (string Key, object Value)[] tags) => (long)Double(meter, name, tags);

        public double Double(Meter meter, string name, params (string Key, object Value)[] tags)
        {
            lock (_values)
            {
                Assert.True(_values.TryGetValue((meter, name), out var list), $"no measurement of {name}");
                var matches = list.Where(m => tags.All(t => m.Tags.Any(x => x.Key == t.Key && Equals(x.Value, t.Value)))).ToList();
                Assert.True(matches.Count == 1, $"{name} {string.Join(',', tags)}: {matches.Count} matching series of {list.Count}");
                return matches[0].Value;
            }
        }

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            KeyValuePair<string, object?>[] copy = tags.ToArray();
            if (instrument is Histogram<double>)
            {
                lock (_histogram)
                {
                    _histogram.Add((instrument.Name, copy.FirstOrDefault(t => t.Key == "stack").Value as string, value));
                }

                return;
            }

            lock (_values)
            {
                if (!_values.TryGetValue((instrument.Meter, instrument.Name), out var list))
                {
                    _values[(instrument.Meter, instrument.Name)] = list = [];
                }

                list.Add((value, copy));
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>A recording stack whose flows measure themselves like DCCP's: RTT 12.5 ms, window 8.</summary>
    private sealed class MeasuringStack(string name) : ITransportStack
    {
        private readonly RecordingStack _inner = new(name);

        public string Name => name;

        public StackCarries Carries => StackCarries.Payload;

        public async ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
            new MeasuringFlow(await _inner.Open(flow, remote, replies, cancellationToken));

        public void Flush() => _inner.Flush();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private sealed class MeasuringFlow(IStackFlow inner) : IStackFlow, IMeasuredFlow
        {
            public StackFlowStats Stats => inner.Stats;

            public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info) => inner.Send(packet, info);

            public bool TryMeasure(out MeasurementValues values)
            {
                values = new MeasurementValues(RttMs: 12.5, CongestionWindow: 8);
                return true;
            }

            public void Dispose() => inner.Dispose();
        }
    }
}
