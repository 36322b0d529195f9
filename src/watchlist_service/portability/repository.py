"""All MongoDB queries of import jobs (docs/design.md §11): the ``imports`` collection (one document per job:
its state, progress, counts and lease) and ``import_rows`` (the parsed rows, in steps of ``STEP`` rows, each
with the results of its rows once it is done).

Leases are timed by the database server's clock (``$$NOW``), so replicas whose clocks differ agree on when a
lease has expired.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import msgspec
import pymongo
from pymongo import IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from watchlist_service.errors import ImportInProgress
from watchlist_service.infra.mongo import MongoDocument, database_errors
from watchlist_service.watchlist.portability import Candidate, ImportFormat, ImportRow

JOBS: Final = "imports"
ROWS: Final = "import_rows"
STEP: Final = 50  # rows per step: one intent, one results write and one commit each
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
JobState = Literal["queued", "running", "done", "failed"]
Outcome = Literal["added", "existing", "unmatched", "ambiguous", "full"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("added", "existing", "unmatched", "ambiguous", "full")


class RowResult(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """What the import did with one row of the file."""

    row: int
    outcome: Outcome
    content_id: str | None = None
    title: str | None = None
    year: int | None = None
    candidates: list[Candidate] | None = None
    reason: str | None = None


class Intent(msgspec.Struct, kw_only=True):
    """Written before a step's adds: which of its titles were in the list before the job touched them."""

    start: int
    preexisting: list[str]


class StoredJob(msgspec.Struct, kw_only=True):
    """One import job (``imports``)."""

    id: str = msgspec.field(name="_id")
    user_id: str = msgspec.field(name="userId")
    format: ImportFormat
    state: JobState
    total: int
    done: int = 0
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    owner: str | None = None
    lease_until: datetime = msgspec.field(name="leaseUntil")
    attempts: int = 0
    intent: Intent | None = None
    error: str | None = None
    active: bool | None = None  # true while queued or running (a partial unique index: one per user)
    created_at: datetime = msgspec.field(name="createdAt")
    updated_at: datetime = msgspec.field(name="updatedAt")
    finished_at: datetime | None = msgspec.field(default=None, name="finishedAt")
    expire_at: datetime = msgspec.field(name="expireAt")


class StoredStep(msgspec.Struct, kw_only=True):
    """``STEP`` rows of a job, in processing order, and their results once done (``import_rows``)."""

    id: str = msgspec.field(name="_id")
    job: str
    user_id: str = msgspec.field(name="userId")
    n: int
    rows: list[ImportRow]
    results: list[RowResult] | None = None
    expire_at: datetime = msgspec.field(name="expireAt")


JOB_INDEXES: Final = [
    IndexModel(
        [("userId", pymongo.ASCENDING)],
        name="one_active_import_per_user",
        unique=True,
        partialFilterExpression={"active": True},
    ),
    IndexModel([("userId", pymongo.ASCENDING), ("createdAt", pymongo.DESCENDING)], name="userId_createdAt"),
    IndexModel([("active", pymongo.ASCENDING), ("leaseUntil", pymongo.ASCENDING)], name="active_lease"),
    IndexModel([("expireAt", pymongo.ASCENDING)], name="expire", expireAfterSeconds=0),
]
ROW_INDEXES: Final = [
    IndexModel([("job", pymongo.ASCENDING), ("n", pymongo.ASCENDING)], name="job_n", unique=True),
    IndexModel([("userId", pymongo.ASCENDING)], name="userId"),
    IndexModel([("expireAt", pymongo.ASCENDING)], name="expire", expireAfterSeconds=0),
]
_BUILTINS: Final = (datetime,)


def _encode(value: msgspec.Struct) -> dict[str, Any]:
    encoded = msgspec.to_builtins(value, builtin_types=_BUILTINS)
    assert isinstance(encoded, dict)
    return encoded


def _job(doc: MongoDocument) -> StoredJob:
    return msgspec.convert(doc, StoredJob, from_attributes=False, builtin_types=_BUILTINS)


def _step_id(job_id: str, n: int) -> str:
    return f"{job_id}:{n:06d}"


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class ImportRepository:
    """Reads and guarded writes of import jobs and their rows."""

    def __init__(self, database: AsyncDatabase[MongoDocument], *, keep_s: int, lease_s: float) -> None:
        self._jobs: AsyncCollection[MongoDocument] = database[JOBS]
        self._rows: AsyncCollection[MongoDocument] = database[ROWS]
        self._keep = timedelta(seconds=keep_s)
        self._lease_ms = int(lease_s * 1000)

    async def ensure_indexes(self) -> None:
        """Create the indexes where they are missing; run at start-up."""
        async with database_errors():
            await self._jobs.create_indexes(JOB_INDEXES)
            await self._rows.create_indexes(ROW_INDEXES)

    async def create(
        self, job_id: str, user_id: str, fmt: ImportFormat, rows: list[ImportRow], *, owner: str | None
    ) -> StoredJob:
        """Store a job and its rows; leased to ``owner`` at once (``None``: queued for any replica).

        The rows go first: a job document exists only with all its rows. ``ImportInProgress`` when the user
        has an import that is not finished (the unique partial index decides, also between replicas).
        """
        now = _now()
        expire = now + self._keep
        steps = [
            _encode(
                StoredStep(
                    id=_step_id(job_id, n),
                    job=job_id,
                    user_id=user_id,
                    n=n,
                    rows=rows[start : start + STEP],
                    expire_at=expire,
                )
            )
            for n, start in enumerate(range(0, len(rows), STEP))
        ]
        job = StoredJob(
            id=job_id,
            user_id=user_id,
            format=fmt,
            state="queued" if owner is None else "running",
            total=len(rows),
            counts=dict.fromkeys(OUTCOMES, 0),
            owner=owner,
            lease_until=EPOCH if owner is None else now + timedelta(milliseconds=self._lease_ms),
            active=True,
            created_at=now,
            updated_at=now,
            expire_at=expire,
        )
        async with database_errors():
            if await self._jobs.find_one({"userId": user_id, "active": True}, {"_id": 1}) is not None:
                raise ImportInProgress("This list already has an import that is not finished")
            if steps:
                await self._rows.insert_many(steps, ordered=False)
            try:
                await self._jobs.insert_one(_encode(job))
            except DuplicateKeyError:
                await self._rows.delete_many({"job": job_id})
                raise ImportInProgress("This list already has an import that is not finished") from None
        return job

    async def get(self, job_id: str) -> StoredJob | None:
        """One job, or ``None``."""
        async with database_errors():
            doc = await self._jobs.find_one({"_id": job_id})
        return _job(doc) if doc else None

    async def results(self, job_id: str) -> list[RowResult]:
        """The results of every done row of a job, ordered by row number in the file."""
        async with database_errors():
            cursor = self._rows.find({"job": job_id}, {"_id": 0, "results": 1}).sort("n", pymongo.ASCENDING)
            docs = await cursor.to_list(None)
        found = [
            result for doc in docs for result in msgspec.convert(doc.get("results") or [], list[RowResult])
        ]
        return sorted(found, key=lambda r: r.row)

    async def step(self, job_id: str, n: int) -> StoredStep | None:
        """Step ``n`` of a job (its rows and, once done, its results)."""
        async with database_errors():
            doc = await self._rows.find_one({"_id": _step_id(job_id, n)})
        return msgspec.convert(doc, StoredStep, builtin_types=_BUILTINS) if doc else None

    async def claim(self, owner: str) -> StoredJob | None:
        """Lease one job that is queued, or whose lease has expired (its replica stopped), to ``owner``."""
        async with database_errors():
            doc = await self._jobs.find_one_and_update(
                {"active": True, "$expr": {"$lt": ["$leaseUntil", "$$NOW"]}},
                [
                    {
                        "$set": {
                            "owner": owner,
                            "state": "running",
                            "leaseUntil": {"$add": ["$$NOW", self._lease_ms]},
                            "attempts": {"$add": [{"$ifNull": ["$attempts", 0]}, 1]},
                            "updatedAt": "$$NOW",
                        }
                    }
                ],
                sort=[("leaseUntil", pymongo.ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
        return _job(doc) if doc else None

    async def heartbeat(self, job_id: str, owner: str) -> bool:
        """Extend ``owner``'s lease; ``False`` when it holds it no longer (taken over, erased, finished)."""
        async with database_errors():
            result = await self._jobs.update_one(
                {"_id": job_id, "owner": owner, "active": True},
                [{"$set": {"leaseUntil": {"$add": ["$$NOW", self._lease_ms]}}}],
            )
        return result.matched_count == 1

    async def holds(self, job_id: str, owner: str) -> bool:
        """Whether ``owner`` still holds the job's lease (checked while adding: an erased job stops)."""
        async with database_errors():
            doc = await self._jobs.find_one({"_id": job_id, "owner": owner, "active": True}, {"_id": 1})
        return doc is not None

    async def release(self, job_id: str, owner: str) -> None:
        """Give the lease up now (shutdown, a failure to retry): any replica's next sweep takes the job."""
        async with database_errors():
            await self._jobs.update_one(
                {"_id": job_id, "owner": owner, "active": True},
                {"$set": {"leaseUntil": EPOCH, "owner": None}},
            )

    async def intent(self, job_id: str, start: int, preexisting: list[str]) -> list[str] | None:
        """Record the intent of the step at ``start`` unless one is recorded already (a replica that crashed
        in this step wrote it before its adds); returns the intent in force, ``None`` when the step is no
        longer the job's next one (another replica committed it, or the job is gone)."""
        async with database_errors():
            doc = await self._jobs.find_one_and_update(
                {"_id": job_id, "active": True, "done": start, "intent.start": {"$ne": start}},
                {"$set": {"intent": {"start": start, "preexisting": preexisting}}},
                projection={"_id": 0, "intent": 1},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                doc = await self._jobs.find_one(
                    {"_id": job_id, "active": True, "done": start, "intent.start": start},
                    {"_id": 0, "intent": 1},
                )
        if doc is None:
            return None
        return [str(cid) for cid in doc["intent"]["preexisting"]]

    async def store_results(self, job_id: str, n: int, results: list[RowResult]) -> list[RowResult]:
        """Keep the results of step ``n``; the first results stored win (a replica that did this step before
        it crashed or lost its lease), and those are returned."""
        async with database_errors():
            doc = await self._rows.find_one_and_update(
                {"_id": _step_id(job_id, n), "results": None},
                {"$set": {"results": [_encode(r) for r in results]}},
                projection={"_id": 0, "results": 1},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                doc = await self._rows.find_one({"_id": _step_id(job_id, n)}, {"_id": 0, "results": 1})
        if doc is None or doc.get("results") is None:
            return results
        return msgspec.convert(doc["results"], list[RowResult])

    async def commit(self, job_id: str, start: int, end: int, results: list[RowResult]) -> bool:
        """Advance ``done`` from ``start`` to ``end`` with the step's counts; only once per step."""
        counts: dict[str, int] = {}
        for result in results:
            counts[f"counts.{result.outcome}"] = counts.get(f"counts.{result.outcome}", 0) + 1
        update: dict[str, Any] = {"$set": {"done": end, "updatedAt": _now()}, "$unset": {"intent": ""}}
        if counts:
            update["$inc"] = counts
        async with database_errors():
            committed = await self._jobs.update_one({"_id": job_id, "active": True, "done": start}, update)
        return committed.modified_count == 1

    async def finish(self, job_id: str, state: JobState, error: str | None = None) -> None:
        """End a job: ``done`` or ``failed`` (with ``error``); it keeps its results until it expires."""
        async with database_errors():
            await self._jobs.update_one(
                {"_id": job_id, "active": True},
                {
                    "$set": {"state": state, "error": error, "finishedAt": _now(), "owner": None},
                    "$unset": {"active": "", "intent": ""},
                },
            )

    async def delete_user(self, user_id: str) -> int:
        """Delete every import job of a user, and their rows; returns how many jobs."""
        async with database_errors():
            jobs = await self._jobs.delete_many({"userId": user_id})
            await self._rows.delete_many({"userId": user_id})
        return jobs.deleted_count
