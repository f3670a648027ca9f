using System.Text.Json.Nodes;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Daemon;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Metrics;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Remote;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Management;

/// <summary>Answers management commands from the daemon's live state. Every answer is a JSON object.</summary>
internal sealed class ManagementHandler(VsDaemon daemon) : IAsyncDisposable
{
    private readonly ControlPlane _control = new(
        daemon.Pipeline.Flows.Rules, daemon.Pipeline.Flows, daemon.Pipeline.Loop, daemon.Stacks, daemon.Catalog, Cli.ConsoleLog.Write);

    private RemoteServer? _remote;
    private VsMetrics? _metrics;

    /// <summary>
    /// Starts the housekeeping (policy error reports) and, when configured, the remote interface; called once the
    /// local socket listens. Throws <see cref="IOException"/> when the remote interface cannot listen.
    /// </summary>
    public void Start()
    {
        _control.Start();
        if (daemon.Settings.RemoteManagement is { } remote)
        {
            _remote = RemoteServer.Start(remote, unchecked((int)daemon.Settings.Tun.Mark), r => HandleAsync(r, MeasurementSource.Controller), Cli.ConsoleLog.Write);
        }

        FlowTable table = daemon.Pipeline.Flows.Table;
        _metrics = new VsMetrics(daemon.Pipeline.Counters, daemon.Stacks, () => _control.LastFlows, () => table.Count, _control.Policies, () => _remote?.Refusals);
    }

    public async ValueTask DisposeAsync()
    {
        _metrics?.Dispose();
        if (_remote is not null)
        {
            await _remote.DisposeAsync();
        }

        await _control.DisposeAsync();
    }

    private JsonObject? RemoteStatus()
    {
        if (_remote is not { } remote)
        {
            return null;
        }

        var refused = new JsonObject();
        foreach (Refusal reason in Enum.GetValues<Refusal>())
        {
            refused[RefusalLog.Name(reason)] = remote.Refusals.Total(reason);
        }

        return new JsonObject
        {
            ["listen"] = remote.LocalEndPoint.ToString(),
            ["connections"] = remote.ConnectionsTotal,
            ["accepted"] = remote.Accepted,
            ["refused_total"] = remote.Refusals.All,
            ["refused"] = refused,
            ["nonces_remembered"] = remote.NoncesRemembered,
        };
    }

    public static readonly string[] Commands = ["status", "flows", "stacks", "plugins", "switch", "policy", "measure", "migrate"];

    internal ControlPlane Control => _control;

    /// <summary>
    /// Answers one request. <paramref name="source"/> says who asks (an operator on the local socket, the controller
    /// over the remote interface): measurements are labelled with it. A refused command answers ok=false with the
    /// reason and has changed nothing.
    /// </summary>
    public async Task<JsonObject> HandleAsync(JsonObject request, MeasurementSource source = MeasurementSource.Operator)
    {
        string? command = request["command"] is JsonValue c && c.TryGetValue(out string? name) ? name : null;
        JsonNode? result;
        try
        {
            result = command switch
            {
                "status" => Status(request["collect"] is JsonValue v && v.TryGetValue(out bool collect) && collect),
                "stacks" => Stacks(),
                "plugins" => Plugins(),
                "flows" => await Flows(),
                "switch" => await _control.SwitchAsync(Text(request, "target"), Text(request, "stack"), Who(source)),
                "policy" => await _control.SetPolicyAsync(Text(request, "rule"), Text(request, "policy"), Options(request), Who(source)),
                "migrate" => await _control.MigrateAsync(Text(request, "target"), Text(request, "to"), OptionalText(request, "path"), Who(source), OptionalText(request, "stack")),
                "measure" => await _control.MeasureAsync(Text(request, "stack"), OptionalText(request, "rule"), FlowId(request), Values(request), source),
                _ => null,
            };
        }
        catch (ManagementException e)
        {
            return ManagementServer.Error(e.Message);
        }

        return result is null
            ? ManagementServer.Error($"unknown command '{command}' (known: {string.Join(", ", Commands)})")
            : new JsonObject { ["ok"] = true, ["result"] = result };
    }

    private static string Who(MeasurementSource source) => source == MeasurementSource.Controller ? "the controller (remote)" : "an operator";

    private static string Text(JsonObject request, string key) =>
        OptionalText(request, key) ?? throw new ManagementException($"'{key}' is missing");

    private static string? OptionalText(JsonObject request, string key) => request[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? text) => text,
        JsonValue v when v.TryGetValue(out long number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new ManagementException($"'{key}' must be a string"),
    };

    private static long? FlowId(JsonObject request) => request["flow"] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out long id) => id,
        JsonValue v when v.TryGetValue(out string? text) && long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long id) => id,
        _ => throw new ManagementException("'flow' must be a flow number"),
    };

    private static Dictionary<string, string> Options(JsonObject request)
    {
        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (request["options"] is null)
        {
            return options;
        }

        if (request["options"] is not JsonObject given)
        {
            throw new ManagementException("'options' must be an object of option names to values");
        }

        foreach ((string key, JsonNode? value) in given)
        {
            options[key] = value switch
            {
                JsonValue v when v.TryGetValue(out string? text) => text,
                JsonValue v => v.ToJsonString(),
                _ => throw new ManagementException($"options: '{key}' must be a string or a number (nested options are written 'When:0:Stack')"),
            };
        }

        return options;
    }

    private static MeasurementValues Values(JsonObject request) => new(
        Number(request, "loss"), Number(request, "rtt_ms"), Number(request, "cwnd"), Number(request, "throughput_bps"));

    private static double? Number(JsonObject request, string key) => request[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out double number) => number,
        JsonValue v when v.TryGetValue(out string? text) && double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double number) => number,
        _ => throw new ManagementException($"'{key}' must be a number"),
    };

    private JsonObject Status(bool collect)
    {
        PipelineCounters c = daemon.Pipeline.Counters;
        FlowTable table = daemon.Pipeline.Flows.Table;
        var drops = new JsonObject();
        foreach (DropReason reason in Enum.GetValues<DropReason>())
        {
            if (reason != DropReason.None)
            {
                drops[ToName(reason)] = c.Drops(reason);
            }
        }

        return new JsonObject
        {
            ["tun"] = daemon.TunName,
            ["pid"] = Environment.ProcessId,
            ["uptime_s"] = Math.Round((DateTimeOffset.UtcNow - daemon.StartedAt).TotalSeconds, 1),
            ["pipeline"] = string.Join(" -> ", daemon.Pipeline.StageNames),
            ["packets_in"] = c.PacketsIn,
            ["bytes_in"] = c.BytesIn,
            ["batches"] = c.Batches,
            ["packets_sent"] = c.PacketsSent,
            ["bytes_sent"] = c.BytesSent,
            ["replies_written"] = Interlocked.Read(ref c.RepliesWritten),
            ["reply_errors"] = Interlocked.Read(ref c.ReplyErrors),
            ["read_errors"] = c.ReadErrors,
            ["bad_ip_checksums"] = c.BadIpChecksums,
            ["unparsed_to_default"] = c.Unparsed,
            ["held"] = c.Held,
            ["drops_total"] = c.TotalDrops,
            ["stage_errors"] = c.StageErrors,
            ["stage_error_packets"] = c.StageErrorPackets,
            ["drops"] = drops,
            ["flows"] = new JsonObject
            {
                ["active"] = table.Count,
                ["max"] = table.MaxFlows,
                ["created"] = table.Created,
                ["evicted"] = table.Evicted,
                ["timed_out"] = table.TimedOut,
            },
            ["rules"] = RulesStatus(),
            ["remote"] = RemoteStatus(),
            ["gc_allocated_bytes"] = GC.GetTotalAllocatedBytes(precise: true), // imprecise is off by up to an allocation context (~8 KiB) per thread
            ["gc_heap_bytes"] = GC.GetTotalMemory(forceFullCollection: collect),
            ["gc_committed_bytes"] = GC.GetGCMemoryInfo().TotalCommittedBytes,
            ["loop"] = new JsonObject
            {
                ["sleeps"] = daemon.Pipeline.Loop.Sleeps,
                ["sleeps_backpressured"] = daemon.Pipeline.Loop.SleepsBackpressured,
                ["sleep_timeouts"] = daemon.Pipeline.Loop.SleepTimeouts,
                ["allocated_bytes"] = daemon.Pipeline.Loop.AllocatedBytes,
            },
        };
    }

    private JsonArray RulesStatus()
    {
        var rules = new JsonArray();
        foreach (RulePolicy p in _control.Policies)
        {
            PolicyBinding b = p.Binding;
            var options = new JsonObject();
            foreach ((string key, string value) in b.Options.OrderBy(o => o.Key, StringComparer.Ordinal))
            {
                options[key] = value;
            }

            rules.Add(new JsonObject
            {
                ["name"] = p.Rule,
                ["stacks"] = new JsonArray([.. p.Stacks.Select(s => (JsonNode)JsonValue.Create(s))]),
                ["policy"] = b.Name,
                ["options"] = options,
                ["forced"] = b.Forced >= 0 ? p.Stacks[b.Forced] : null,
                ["since"] = b.Since.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["state"] = p.PolicyStatus(),
                ["policy_errors"] = p.Errors,
                ["kept_without_asking"] = p.SuspendedPackets,
                ["last_error"] = p.LastError,
                ["sender_lookups"] = p.SenderLookups,
                ["senders_unknown"] = p.SendersUnknown,
            });
        }

        // Rules with paths have no policy: their scheduler decides per packet.
        foreach (Rules.Rule r in daemon.Pipeline.Flows.Rules.Rules)
        {
            if (r.Multipath is { } multipath)
            {
                rules.Add(new JsonObject
                {
                    ["name"] = r.Name,
                    ["stacks"] = new JsonArray([.. multipath.Paths.Select(p => p.Runtime.Name).Distinct().Select(n => (JsonNode)JsonValue.Create(n))]),
                    ["policy"] = $"paths:{multipath.Scheduler}",
                    ["options"] = new JsonObject(),
                    ["forced"] = null,
                    ["since"] = daemon.StartedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                    ["state"] = string.Join(", ", multipath.Paths.Select(p =>
                        $"{p.Name}: {p.Runtime.Name} to {(p.MigratedTo?.Value ?? p.To)?.ToString() ?? "the address the application used"}" +
                        $"{(p.Link is { } link ? $" via {link.Device} ({link.State})" : "")}, weight {p.Weight}")),
                    ["policy_errors"] = 0,
                    ["kept_without_asking"] = 0,
                    ["last_error"] = null,
                    ["sender_lookups"] = 0,
                    ["senders_unknown"] = 0,
                });
            }
        }

        return rules;
    }

    private JsonArray Stacks()
    {
        var stacks = new JsonArray();
        foreach (StackRuntime s in daemon.Stacks)
        {
            stacks.Add(new JsonObject
            {
                ["name"] = s.Name,
                ["plugin"] = s.Plugin,
                ["carries"] = s.Carries.ToString().ToLowerInvariant(),
                ["packets_sent"] = s.PacketsSent,
                ["bytes_sent"] = s.BytesSent,
                ["packets_received"] = Interlocked.Read(ref s.PacketsReceived),
                ["bytes_received"] = Interlocked.Read(ref s.BytesReceived),
                ["drops"] = s.Drops,
                ["flows_opened"] = Interlocked.Read(ref s.FlowsOpened),
                ["open_failures"] = Interlocked.Read(ref s.OpenFailures),
                ["build_ms"] = Summary(StackTimings.For(s).Builds.Summarize(), 1000),
                ["switch_delay_us"] = Summary(StackTimings.For(s).Switches.Summarize(), 1),
            });
        }

        return stacks;
    }

    private JsonObject Plugins()
    {
        var loaded = new JsonArray();
        foreach (var p in daemon.Catalog.Plugins)
        {
            loaded.Add(new JsonObject { ["name"] = p.Name, ["version"] = p.Version, ["folder"] = p.Folder, ["provides"] = new JsonArray(p.Provides.Select(x => (JsonNode?)x).ToArray()) });
        }

        var failed = new JsonArray();
        foreach (var f in daemon.Catalog.Failures)
        {
            failed.Add(new JsonObject { ["name"] = f.Name, ["folder"] = f.Folder, ["reason"] = f.Reason });
        }

        return new JsonObject { ["directory"] = daemon.Catalog.Directory, ["loaded"] = loaded, ["failed"] = failed };
    }

    private async Task<JsonArray> Flows()
    {
        FlowEntry[] entries = await daemon.Pipeline.RunOnLoop(() => daemon.Pipeline.Flows.Table.Snapshot());
        long now = Environment.TickCount64;
        var flows = new JsonArray();
        foreach (FlowEntry e in entries)
        {
            StackEngine engine = e.Engine;
            int active = engine.Active;
            var stacks = new JsonArray();
            foreach (StackSlot slot in engine.Slots)
            {
                var stats = slot.Flow?.Stats;
                stacks.Add(new JsonObject
                {
                    ["name"] = slot.Runtime.Name,
                    ["state"] = slot.State.ToString().ToLowerInvariant(),
                    ["remote"] = slot.State == SlotState.NotBuilt ? null : slot.Remote.ToString(),
                    ["build_ms"] = Math.Round(slot.BuildTime.TotalMilliseconds, 3),
                    ["builds"] = slot.Builds,
                    ["packets_sent"] = stats?.PacketsSent ?? 0,
                    ["packets_received"] = stats?.PacketsReceived ?? 0,
                    ["error"] = slot.LastError,
                });
            }

            int pending = engine.Pending;
            int forced = engine.Forced;
            (SampleSummary delays, SwitchRecord[] recent) = engine.History?.Snapshot() ?? (default, []);
            var switches = new JsonArray();
            foreach (SwitchRecord r in recent)
            {
                switches.Add(new JsonObject
                {
                    ["from"] = engine.Slots[r.From].Runtime.Name,
                    ["to"] = engine.Slots[r.To].Runtime.Name,
                    ["delay_us"] = Math.Round(r.DelayUs, 1),
                    ["cached"] = r.Cached,
                    ["at"] = DateTimeOffset.FromUnixTimeMilliseconds(r.AtUnixMs).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                });
            }

            flows.Add(new JsonObject
            {
                ["id"] = e.Id,
                ["flow"] = e.Key.ToString(),
                ["rule"] = e.Rule.Name,
                ["stack"] = active >= 0 ? engine.Slots[active].Runtime.Name : null,
                ["wanted"] = pending >= 0 ? engine.Slots[pending].Runtime.Name : null,
                ["forced"] = forced >= 0 ? engine.Slots[forced].Runtime.Name : null,
                ["packets"] = e.Packets,
                ["bytes"] = e.Bytes,
                ["drops"] = FlowDrops(e),
                ["replies"] = Interlocked.Read(ref engine.RepliesDelivered),
                ["switches"] = engine.Switches,
                ["switch_delay_us"] = Summary(delays, 1),
                ["recent_switches"] = switches,
                ["idle_s"] = Math.Round((now - e.LastSeen) / 1000.0, 1),
                ["stacks"] = stacks,
                ["migrations"] = engine.Migrations,
                ["migrated_to"] = engine.MigratedTo?.ToString(),
                ["paths"] = engine.MultipathFlow is { } multipath ? PathsJson(multipath, now) : null,
                ["sender"] = e.Sender is { } sender
                    ? new JsonObject
                    {
                        ["uid"] = sender.Uid,
                        ["pid"] = sender.ProcessId >= 0 ? sender.ProcessId : null,
                        ["cgroups"] = new JsonArray([.. sender.Cgroups.Select(c => (JsonNode)JsonValue.Create(c))]),
                    }
                    : null,
            });
        }

        return flows;
    }

    /// <summary>A multipath flow's paths: state, counters, round-trip time, far end.</summary>
    private static JsonObject PathsJson(Multipath.MultipathFlow flow, long now)
    {
        var paths = new JsonArray();
        foreach (Multipath.PathFlow p in flow.Paths)
        {
            Multipath.PathHealth health = p.Health;
            long lastReply = health.LastReply;
            double rtt = p.RttUs;
            paths.Add(new JsonObject
            {
                ["name"] = p.Definition.Name,
                ["stack"] = p.Definition.Runtime.Name,
                ["remote"] = p.Builds > 0 ? p.Remote.ToString() : null,
                ["interface"] = p.Definition.Link?.Device,
                ["link"] = p.Definition.Link?.State,
                ["weight"] = p.Definition.Weight,
                ["state"] = health.Up ? "up" : "down",
                ["reason"] = health.Reason,
                ["down_for_ms"] = health.Up || health.DownSince == long.MinValue ? null : now - health.DownSince,
                ["packets_sent"] = p.PacketsSent,
                ["bytes_sent"] = p.BytesSent,
                ["drops"] = p.Drops,
                ["probes"] = p.Probes,
                ["packets_received"] = Interlocked.Read(ref p.PacketsReceived),
                ["bytes_received"] = Interlocked.Read(ref p.BytesReceived),
                ["rtt_ms"] = rtt > 0 ? Math.Round(rtt / 1000, 3) : null,
                ["rtt_source"] = rtt > 0 ? (p.RttFromStack ? "stack" : "replies") : null,
                ["last_reply_ms_ago"] = lastReply == long.MinValue ? null : now - lastReply,
                ["downs"] = health.Downs,
                ["recoveries"] = health.Recoveries,
                ["faults"] = p.Faults,
                ["builds"] = p.Builds,
                ["migrations"] = p.Migrations,
                ["error"] = p.LastError,
            });
        }

        return new JsonObject
        {
            ["scheduler"] = flow.Stack.Scheduler.ToString(),
            ["up"] = flow.UpCount,
            ["sequence_tag"] = flow.Tagger is { } tag ? new JsonObject
            {
                ["flow_id"] = tag.FlowId.ToString("x8", System.Globalization.CultureInfo.InvariantCulture),
                ["sequence"] = tag.Sequence,
                ["reply_duplicates"] = tag.ReplyDuplicates,
                ["replies_untagged"] = Interlocked.Read(ref tag.RepliesUntagged),
            } : null,
            ["list"] = paths,
        };
    }

    /// <summary>count/min/median/max/last of durations, divided by <paramref name="divisor"/> (µs to ms: 1000).</summary>
    private static JsonObject Summary(SampleSummary s, double divisor) => new()
    {
        ["count"] = s.Count,
        ["min"] = Math.Round(s.Min / divisor, 3),
        ["median"] = Math.Round(s.Median / divisor, 3),
        ["p99"] = Math.Round(s.P99 / divisor, 3),
        ["max"] = Math.Round(s.Max / divisor, 3),
        ["last"] = Math.Round(s.Last / divisor, 3),
    };

    /// <summary>A flow's drops by reason, only the reasons that happened.</summary>
    private static JsonObject FlowDrops(FlowEntry e)
    {
        var drops = new JsonObject();
        if (e.DropsByReason is { } counts)
        {
            for (int reason = 1; reason < counts.Length; reason++)
            {
                long count = Volatile.Read(ref counts[reason]);
                if (count > 0)
                {
                    drops[ToName((DropReason)reason)] = count;
                }
            }
        }

        return drops;
    }

    private static string ToName(DropReason reason)
    {
        string name = reason.ToString();
        var chars = new System.Text.StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                chars.Append('_');
            }

            chars.Append(char.ToLowerInvariant(name[i]));
        }

        return chars.ToString();
    }
}
