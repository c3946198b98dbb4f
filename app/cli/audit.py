"""`identito audit ...`: seal the audit trail into its hash chain, verify the chain."""

from __future__ import annotations

import typer

from app.domain.messages import register, render

register("audit-chain-intact",
         "Audit chain intact: {sealed} rows sealed and unchanged; {unsealed} rows not sealed yet{oldest}.",
         "Chaîne d'audit intacte : {sealed} lignes scellées et inchangées ; {unsealed} lignes pas encore "
         "scellées{oldest}.")
register("audit-chain-broken",
         "Audit chain BROKEN at seal {seq}: audit row {audit_id} was {kind} after it was sealed "
         "({sealed} rows before it are intact). Keep the database as it is and alert the security officer.",
         "Chaîne d'audit ROMPUE au scellé {seq} : la ligne d'audit {audit_id} a été {kind} après son "
         "scellement ({sealed} lignes avant elle sont intactes). Conservez la base en l'état et alertez le "
         "responsable de la sécurité.")
register("audit-sealed", "{count} audit rows sealed.", "{count} lignes d'audit scellées.")

audit_cli = typer.Typer(help="The audit trail's hash chain: seal, verify.", no_args_is_help=True)
_KIND = {"changed": ("changed", "modifiée"), "missing": ("removed", "supprimée")}


@audit_cli.command("seal")
def seal() -> None:
    """Seal every audit row not sealed yet (the worker does it every few seconds)."""
    from app.cli.core import checked_context
    from app.services import audit_chain

    settings, ctx = checked_context()
    typer.echo(render("audit-sealed", settings.language, count=audit_chain.seal_all(ctx)))


@audit_cli.command("verify")
def verify() -> None:
    """Prove the chain: every sealed row unchanged, none removed; exit 1 naming the first broken row."""
    from app.cli.core import checked_context
    from app.services import audit_chain

    settings, ctx = checked_context()
    report = audit_chain.verify(ctx)
    french = settings.language == "fr"
    if report.broken is not None:
        kind = _KIND[report.broken.kind][1 if french else 0]
        typer.echo(render("audit-chain-broken", settings.language, seq=report.broken.seq,
                          audit_id=report.broken.audit_id, kind=kind, sealed=report.sealed), err=True)
        raise typer.Exit(1)
    oldest = ""
    if report.oldest_unsealed_id is not None:
        oldest = (f" (le plus ancien : ligne {report.oldest_unsealed_id})" if french
                  else f" (oldest: row {report.oldest_unsealed_id})")
    typer.echo(render("audit-chain-intact", settings.language, sealed=report.sealed, unsealed=report.unsealed,
                      oldest=oldest))
