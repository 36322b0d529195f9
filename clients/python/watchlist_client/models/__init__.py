"""Contains all the data models used in inputs/outputs"""

from .add_request import AddRequest
from .add_request_position import AddRequestPosition
from .batch_request import BatchRequest
from .batch_result import BatchResult
from .candidate import Candidate
from .catalog_item import CatalogItem
from .catalog_item_type import CatalogItemType
from .catalog_page import CatalogPage
from .catalog_sort import CatalogSort
from .change import Change
from .change_op import ChangeOp
from .changes import Changes
from .company import Company
from .contains_request import ContainsRequest
from .export_format import ExportFormat
from .export_watchlist_response_200 import ExportWatchlistResponse200
from .field_error import FieldError
from .genre import Genre
from .health import Health
from .import_counts import ImportCounts
from .import_format import ImportFormat
from .import_job import ImportJob
from .import_job_state import ImportJobState
from .item import Item
from .item_type import ItemType
from .list_watchlist_type_type_1 import ListWatchlistTypeType1
from .list_watchlist_type_type_2_type_1 import ListWatchlistTypeType2Type1
from .list_watchlist_type_type_3_type_1 import ListWatchlistTypeType3Type1
from .movie_details import MovieDetails
from .movie_details_type import MovieDetailsType
from .page import Page
from .patch_request import PatchRequest
from .problem import Problem
from .recommendations import Recommendations
from .reorder_request import ReorderRequest
from .reorder_result import ReorderResult
from .replace_request import ReplaceRequest
from .row_result import RowResult
from .row_result_outcome import RowResultOutcome
from .season import Season
from .sort_order import SortOrder
from .spoken_language import SpokenLanguage
from .stats import Stats
from .ticket import Ticket
from .tv_details import TvDetails
from .tv_details_type import TvDetailsType
from .user_export_watchlist_response_200 import UserExportWatchlistResponse200
from .user_list_watchlist_type_type_1 import UserListWatchlistTypeType1
from .user_list_watchlist_type_type_2_type_1 import UserListWatchlistTypeType2Type1
from .user_list_watchlist_type_type_3_type_1 import UserListWatchlistTypeType3Type1
from .user_watchlist_contains_response_200 import UserWatchlistContainsResponse200
from .watchers import Watchers
from .watchlist_contains_response_200 import WatchlistContainsResponse200

__all__ = (
    "AddRequest",
    "AddRequestPosition",
    "BatchRequest",
    "BatchResult",
    "Candidate",
    "CatalogItem",
    "CatalogItemType",
    "CatalogPage",
    "CatalogSort",
    "Change",
    "ChangeOp",
    "Changes",
    "Company",
    "ContainsRequest",
    "ExportFormat",
    "ExportWatchlistResponse200",
    "FieldError",
    "Genre",
    "Health",
    "ImportCounts",
    "ImportFormat",
    "ImportJob",
    "ImportJobState",
    "Item",
    "ItemType",
    "ListWatchlistTypeType1",
    "ListWatchlistTypeType2Type1",
    "ListWatchlistTypeType3Type1",
    "MovieDetails",
    "MovieDetailsType",
    "Page",
    "PatchRequest",
    "Problem",
    "Recommendations",
    "ReorderRequest",
    "ReorderResult",
    "ReplaceRequest",
    "RowResult",
    "RowResultOutcome",
    "Season",
    "SortOrder",
    "SpokenLanguage",
    "Stats",
    "Ticket",
    "TvDetails",
    "TvDetailsType",
    "UserExportWatchlistResponse200",
    "UserListWatchlistTypeType1",
    "UserListWatchlistTypeType2Type1",
    "UserListWatchlistTypeType3Type1",
    "UserWatchlistContainsResponse200",
    "Watchers",
    "WatchlistContainsResponse200",
)
