"""tattletail: CloudTrail records -> jq rules -> Slack, SNS and SES alerts.

Code map, in the order data flows (the Lambda runs every part marked *):

    handler.py *        lambda_handler: wiring only (event -> objects -> pipeline -> totals)
    inputs/ *           events (every Lambda event shape) -> log objects (logfile, recordstream, scan, batch:
                        streamed, bounded records); history (local files, s3:// prefixes by date; its LogRef
                        is what pipeline.process_ref reads, the discovery is the command line's)
    guard.py, cost.py, sandbox.py *
                        every rule evaluation bounded: what can be proven to end at a cost linear in the
                        record runs in-process, the rest in a child process under a time budget (with
                        costparse, jqtokens, backtracking, repetition: the static checks' parts)
    config/ *           loader (TOML -> checked, frozen Config; checks in tables, rule_checks,
                        destination_checks, packs), secrets (SSM, Secrets Manager, env),
                        current (the Lambda's config, cached per container, re-read on a new ETag)
    jq/ *               the jq subset: nodes, lexer, parse (text -> AST); compile, builtins, paths, operators,
                        modes (AST -> Python closures); values, regex; roots, prefilter (what a program reads
                        and needs): imports nothing else of ours
    rules.py *          Rule and Match: one jq program over one record, the Go tool's match semantics
    engine.py *         records x rules -> matches (prefilter, compiled Python, one libjq program)
    pipeline.py *       the ONE evaluation path: records -> engine -> report (+ delivery); the Lambda,
                        run, render, test and replay all evaluate here
    correlation/ *      [[correlation]]: base-rule matches counted per group and event-time window (in
                        memory, or in the DynamoDB state table across invocations) -> correlation alerts;
                        history (run/replay/test, event-time order) and sigma (import) for the command line
    alerts/ *           facts (who, when, where, what), the alert model and its views, labels
    destinations/ *     slack, sns, ses: one module per sink, a registry, the render/deliver contract
    delivery/ *         report (what happened), dispatch (per-object deliveries, digests), state
                        (exactly once), deadletter, retry; redrive (command line only)
    aws.py *            the one seam to AWS: clients and what a botocore failure means
    errors.py *         the one exception tree;  settings.py *: environment variables;  log.py *: JSON logs
    redact.py *         secrets (webhook URLs) masked in every log line, error and dead letter
    commands/           the command line, one module per verb (check, run, render, test, replay,
                        report sessions, redrive, backfill, policy/template, import sigma)

Public API: ``tattletail.handler.lambda_handler`` (the deployed handler path) and the ``tattletail``
command (``tattletail.commands:main``).
"""

__version__ = "0.1.0"
