"""Import jobs (docs/design.md §11): an uploaded file becomes a job in MongoDB that any replica can run,
report and resume.

- Upload: the file is parsed whole (``watchlist/portability.py``) before anything is stored; the job and its
  rows are stored, leased to this replica, and run in the background.
- Run: rows go in steps of ``STEP``, in order. For each step: resolve the rows (Trakt: the title's metadata;
  Letterboxd: a catalog search by title and year), record the step's intent (which titles were in the list
  already), add each title with the list's guarded add (the same update as a single add: no duplicate, the
  cap holds, one version bump per real add), invalidate the page cache once, publish the events, store the
  results, then advance ``done``, guarded by ``done`` being the step's start, so each step counts once.
- Resume: the lease (``leaseUntil``, on the database's clock) is extended by a heartbeat; a replica that
  dies stops extending it, and every replica's periodic sweep claims jobs whose lease expired. The step that
  was under way is done again: titles it had already added are refused by the guarded add ("already in the
  list"), so nothing is added twice, and the recorded intent tells those apart from titles that were in the
  list before, so the results are the same as without the crash.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Final, Literal, Protocol

import msgspec
from loguru import logger

from watchlist_service.errors import (
    AlreadyInList,
    CatalogUnavailable,
    DatabaseUnavailable,
    ImportNotFound,
    ImportTooManyRows,
    InvalidImportFile,
    ListFull,
    MovieNotFound,
    TvNotFound,
    UnsupportedImportFormat,
)
from watchlist_service.portability.repository import (
    OUTCOMES,
    STEP,
    ImportRepository,
    JobState,
    RowResult,
    StoredJob,
)
from watchlist_service.watchlist.cache import PageCache
from watchlist_service.watchlist.portability import (
    CANDIDATES_MAX,
    Candidate,
    ImportFormat,
    ImportRejected,
    ImportRow,
    parse_file,
    pick,
)
from watchlist_service.watchlist.repository import WatchlistRepository, utcnow
from watchlist_service.watchlist.schemas import ContentType, Item, ListEvent, split_content_id
from watchlist_service.watchlist.service import EventSink, TitleLookup

JOBS_PER_REPLICA: Final = 2
RESOLVE_CONCURRENCY: Final = 4
CATALOG_ATTEMPTS: Final = 6  # a step whose titles cannot be looked up waits 1, 2, 4, 8, 16 s, then fails
HOLDS_CHECK_S: Final = 0.2  # how often a runner checks, while adding, that the job is still its own
JOB_ATTEMPTS: Final = 10  # a job that keeps failing (not a crash: an error) is given up


class FoundMovie(Protocol):
    """A movie the catalog search answers."""

    content_id: str
    title: str | None
    original_title: str | None
    release_date: str | None
    poster_path: str | None


class MovieSearch(Protocol):
    """The catalog's movie search, as imports use it (``CatalogService.search_movies``)."""

    async def search_movies(self, title: str, year: int | None) -> Sequence[FoundMovie]:
        """Movies TMDb finds for ``title`` (in ``year``); ``CatalogUnavailable`` when it cannot say."""
        ...


class ImportCounts(msgspec.Struct, rename="camel"):
    """How many rows had each outcome so far."""

    added: int = 0
    existing: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    full: int = 0


class ImportJob(msgspec.Struct, rename="camel", kw_only=True):
    """An import: its progress and, once finished, what it did with each row."""

    id: str
    format: ImportFormat
    state: JobState
    total: int
    done: int
    counts: ImportCounts
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    rows: list[RowResult] | None = None


def _view(job: StoredJob, rows: list[RowResult] | None = None) -> ImportJob:
    return ImportJob(
        id=job.id,
        format=job.format,
        state=job.state,
        total=job.total,
        done=job.done,
        counts=ImportCounts(**{k: job.counts.get(k, 0) for k in OUTCOMES}),
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=job.error,
        rows=rows,
    )


class LeaseLost(Exception):
    """This replica no longer runs the job (another took it over, it was erased, or it is finished)."""


class _Pacer:
    """At most ``per_s`` catalog lookups a second from this replica's imports, so an import never takes
    the whole shared TMDb budget from interactive requests."""

    def __init__(self, per_s: float) -> None:
        self._interval = 1.0 / per_s
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(loop.time(), self._next) + self._interval


class ImportService:
    """Uploads, runs, resumes and reports import jobs."""

    def __init__(
        self,
        repository: ImportRepository,
        lists: WatchlistRepository,
        cache: PageCache,
        events: EventSink | None,
        *,
        titles: TitleLookup | None,
        movies: MovieSearch | None,
        max_rows: int,
        max_bytes: int,
        lease_s: float,
        sweep_interval_s: float,
        lookups_per_s: float,
    ) -> None:
        self._repo = repository
        self._lists = lists
        self._cache = cache
        self._events = events
        self._titles = titles
        self._movies = movies
        self._max_rows = max_rows
        self.max_bytes = max_bytes
        self._lease_s = lease_s
        self._sweep_interval_s = sweep_interval_s
        self._pacer = _Pacer(lookups_per_s)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    # --- upload and report

    async def submit(
        self, user_id: str, body: bytes, *, media_type: Literal["json", "csv"], named: ImportFormat | None
    ) -> ImportJob:
        """Parse and store a file as a job, and start it here; 4xx ``DomainError`` for a bad file."""
        try:
            parsed = await asyncio.to_thread(
                parse_file, body, media_type=media_type, named=named, max_rows=self._max_rows
            )
        except ImportRejected as rejected:
            if rejected.kind == "unsupported":
                raise UnsupportedImportFormat(rejected.detail) from None
            if rejected.kind == "too-many-rows":
                raise ImportTooManyRows(rejected.detail) from None
            raise InvalidImportFile(rejected.detail, extra={"errors": rejected.errors}) from None
        job_id = secrets.token_urlsafe(16)
        here = len(self._tasks) < JOBS_PER_REPLICA
        job = await self._repo.create(
            job_id, user_id, parsed.format, parsed.rows, owner=self.owner if here else None
        )
        logger.info("import {} of {} rows ({}) stored", job_id, job.total, parsed.format.value)
        if here:
            self._start(job_id)
        else:
            self._wake.set()
        return _view(job)

    async def status(self, user_id: str, job_id: str) -> ImportJob:
        """A job of ``user_id``'s (``ImportNotFound`` otherwise); with every row's result once finished."""
        job = await self._repo.get(job_id)
        if job is None or job.user_id != user_id:
            raise ImportNotFound("There is no such import for this list")
        finished = job.state in ("done", "failed")
        return _view(job, await self._repo.results(job_id) if finished else None)

    # --- running

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Sweep for queued and abandoned jobs while the app runs; on the way out, stop the jobs of this
        replica and give their leases up, so another replica resumes them at once."""
        sweeper = asyncio.create_task(self._sweep())
        try:
            yield
        finally:
            # A flag as well as the cancel: a cancellation that lands inside a driver call can come back as a
            # driver error (DatabaseUnavailable here), which the sweep survives by design.
            self._stopping = True
            self._wake.set()
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper
            tasks = list(self._tasks.items())
            for _, task in tasks:
                task.cancel()
            await asyncio.gather(*(task for _, task in tasks), return_exceptions=True)
            for job_id, _ in tasks:
                with suppress(DatabaseUnavailable):
                    await self._repo.release(job_id, self.owner)

    async def _sweep(self) -> None:
        while not self._stopping:
            try:
                while len(self._tasks) < JOBS_PER_REPLICA:
                    job = await self._repo.claim(self.owner)
                    if job is None:
                        break
                    if job.id in self._tasks:
                        continue  # ours already (its lease ran out while it was busy): it goes on
                    logger.info("import {} claimed (attempt {})", job.id, job.attempts)
                    self._start(job.id)
            except DatabaseUnavailable:
                pass
            except Exception:
                logger.exception("import sweep failed")
            if self._stopping:
                return
            self._wake.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(self._sweep_interval_s):
                    await self._wake.wait()

    def _start(self, job_id: str) -> None:
        # A context of its own: a job started by an upload must not inherit that request's context (its
        # shared Redis budget would run out within the first step, and every later call would be skipped).
        task = asyncio.create_task(self._run(job_id), context=contextvars.Context())
        self._tasks[job_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(job_id, None)
            self._wake.set()  # a free slot: look for more work

        task.add_done_callback(done)

    async def _run(self, job_id: str) -> None:
        beat = asyncio.create_task(self._heartbeat(job_id, asyncio.current_task()))
        try:
            await self._process(job_id)
        except LeaseLost:
            logger.info("import {}: no longer run by this replica", job_id)
        except DatabaseUnavailable:
            logger.warning("import {}: the database is unavailable; another sweep resumes it", job_id)
            with suppress(DatabaseUnavailable):
                await self._repo.release(job_id, self.owner)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("import {} failed", job_id)
            with suppress(DatabaseUnavailable):
                job = await self._repo.get(job_id)
                if job is not None and job.attempts >= JOB_ATTEMPTS:
                    await self._repo.finish(job_id, "failed", "internal-error")
                else:
                    await self._repo.release(job_id, self.owner)
        finally:
            beat.cancel()
            with suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, job_id: str, worker: asyncio.Task[None] | None) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                held = await self._repo.heartbeat(job_id, self.owner)
            except DatabaseUnavailable:
                continue
            if not held and worker is not None:
                worker.cancel()  # the job is someone else's now (or erased): stop at once
                return

    async def _process(self, job_id: str) -> None:
        while True:
            job = await self._repo.get(job_id)
            if job is None or job.owner != self.owner or job.state != "running":
                raise LeaseLost
            if job.format is ImportFormat.LETTERBOXD and self._movies is None:
                # This replica has no catalog (a configuration other replicas may not share): leave the
                # job to one that can match titles, rather than failing it. The lease is left to run out,
                # so this replica does not claim it again at once.
                logger.warning(
                    "import {} needs the catalog, which this replica lacks; left to others", job_id
                )
                return
            if job.done >= job.total:
                await self._repo.finish(job_id, "done")
                logger.info("import {} done: {}", job_id, job.counts)
                return
            step = await self._repo.step(job_id, job.done // STEP)
            if step is None:
                raise LeaseLost  # erased meanwhile
            try:
                resolved = await self._resolve_with_retries(step.rows)
            except CatalogUnavailable:
                await self._repo.finish(job_id, "failed", "catalog-unavailable")
                logger.warning("import {} failed: the catalog stayed unavailable", job_id)
                return
            results = await self._apply(job, step.rows, resolved)
            stored = await self._repo.store_results(job_id, step.n, results)
            await self._repo.commit(job_id, job.done, job.done + len(step.rows), stored)

    async def _resolve_with_retries(self, rows: list[ImportRow]) -> list[Item | RowResult]:
        for attempt in range(CATALOG_ATTEMPTS):
            try:
                return await self._resolve(rows)
            except CatalogUnavailable:
                if attempt == CATALOG_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable")

    async def _resolve(self, rows: list[ImportRow]) -> list[Item | RowResult]:
        limit = asyncio.Semaphore(RESOLVE_CONCURRENCY)

        async def one(row: ImportRow) -> Item | RowResult:
            async with limit:
                return await self._resolve_row(row)

        return list(await asyncio.gather(*(one(row) for row in rows)))

    async def _resolve_row(self, row: ImportRow) -> Item | RowResult:
        """The item a row adds, or its result when it adds none (unmatched, ambiguous)."""
        if row.item is not None:
            return row.item
        if row.unmatched is not None:
            return RowResult(
                row=row.row, outcome="unmatched", title=row.title, year=row.year, reason=row.unmatched
            )
        if row.content_id is not None:
            return await self._by_id(row, row.content_id)
        return await self._by_title(row)

    def _item(
        self,
        row: ImportRow,
        content_id: str,
        *,
        title: str | None,
        poster_path: str | None,
        release_date: str | None,
        pending: bool,
    ) -> Item:
        content_type, tmdb_id = split_content_id(content_id)
        added_at = row.added_at or utcnow()
        return Item(
            content_id=content_id,
            type=content_type,
            tmdb_id=tmdb_id,
            title=title,
            poster_path=poster_path,
            release_date=release_date,
            metadata_pending=pending,
            added_at=added_at,
            updated_at=added_at,
        )

    async def _by_id(self, row: ImportRow, content_id: str) -> Item | RowResult:
        """A Trakt row: the title's metadata from the catalog; pending when TMDb cannot say now (§9)."""
        if self._titles is None:
            return self._item(row, content_id, title=None, poster_path=None, release_date=None, pending=False)
        kind: ContentType
        kind, tmdb_id = split_content_id(content_id)
        await self._pacer.wait()
        try:
            found = await self._titles.lite(kind, tmdb_id)
        except (MovieNotFound, TvNotFound):
            return RowResult(
                row=row.row,
                outcome="unmatched",
                content_id=content_id,
                title=row.title,
                year=row.year,
                reason="TMDb has no such title",
            )
        except CatalogUnavailable:
            return self._item(row, content_id, title=None, poster_path=None, release_date=None, pending=True)
        return self._item(
            row,
            content_id,
            title=found.title,
            poster_path=found.poster_path,
            release_date=found.release_date,
            pending=False,
        )

    async def _by_title(self, row: ImportRow) -> Item | RowResult:
        """A Letterboxd row: the catalog's movies with this title (and year)."""
        assert row.title is not None
        if self._movies is None:
            raise CatalogUnavailable("The catalog is not configured: titles cannot be matched")
        await self._pacer.wait()
        found = list(await self._movies.search_movies(row.title, row.year))
        if row.year is not None and not pick(row.title, row.year, _candidates(found)):
            await self._pacer.wait()  # TMDb's year can be a year off Letterboxd's: look without it
            found = list(await self._movies.search_movies(row.title, None))
        matches = pick(row.title, row.year, _candidates(found))
        if len(matches) == 1:
            match = matches[0]
            return self._item(
                row,
                match.content_id,
                title=match.title,
                poster_path=match.poster_path,
                release_date=match.release_date,
                pending=False,
            )
        outcome: Literal["unmatched", "ambiguous"] = "ambiguous" if matches else "unmatched"
        return RowResult(
            row=row.row,
            outcome=outcome,
            title=row.title,
            year=row.year,
            candidates=matches[:CANDIDATES_MAX] if matches else None,
            reason=None if matches else "no catalog title with this name and year",
        )

    async def _apply(
        self, job: StoredJob, rows: list[ImportRow], resolved: list[Item | RowResult]
    ) -> list[RowResult]:
        """Add the step's titles, one guarded add each; the results of its rows."""
        ids = [r.content_id for r in resolved if isinstance(r, Item)]
        before = sorted(await self._lists.contains(job.user_id, ids)) if ids else []
        preexisting = await self._repo.intent(job.id, job.done, before)
        if preexisting is None:
            raise LeaseLost
        there = set(preexisting)
        results: list[RowResult] = []
        events: list[ListEvent] = []
        seen: set[str] = set()
        version = 0
        loop = asyncio.get_running_loop()
        checked = loop.time()  # the intent write just now found the job (it was not erased)
        try:
            for row, found in zip(rows, resolved, strict=True):
                if isinstance(found, RowResult):
                    results.append(found)
                    continue
                cid = found.content_id
                result = RowResult(
                    row=row.row, outcome="added", content_id=cid, title=found.title or row.title
                )
                if cid in seen:
                    result.outcome = "existing"  # listed twice in the file
                    results.append(result)
                    continue
                seen.add(cid)
                if loop.time() - checked >= HOLDS_CHECK_S:
                    # Erased or taken over: add nothing more. Checked this often, not before every add (a
                    # read as dear as the add): an erase waits far longer than this before it deletes.
                    if not await self._repo.holds(job.id, self.owner):
                        raise LeaseLost
                    checked = loop.time()
                try:
                    version = await self._lists.add(job.user_id, found)
                    events.append(ListEvent(event="item.added", version=version, item=found))
                except AlreadyInList:
                    # Added by this job's step before a crash, unless the list had it before the job came.
                    result.outcome = "existing" if cid in there else "added"
                except ListFull:
                    result.outcome = "full"
                results.append(result)
        finally:
            if events:
                await self._cache.invalidate(job.user_id, version)
                for event in events:
                    await self._announce(job.user_id, event)
        return results

    async def _announce(self, user_id: str, event: ListEvent) -> None:
        if self._events is None:
            return
        try:
            await self._events.publish(user_id, event)
        except Exception:  # the add is acknowledged; sockets recover a lost event from the delta feed
            logger.exception("publishing an imported title failed")


def _candidates(found: Sequence[FoundMovie]) -> list[tuple[Candidate, Sequence[str | None]]]:
    return [
        (
            Candidate(
                content_id=movie.content_id,
                title=movie.title,
                release_date=movie.release_date,
                poster_path=movie.poster_path,
            ),
            (movie.title, movie.original_title),
        )
        for movie in found
    ]
