from typing import Literal

CatalogSort = Literal[
    "popularity.asc",
    "popularity.desc",
    "release_date.asc",
    "release_date.desc",
    "title.asc",
    "title.desc",
    "vote_average.asc",
    "vote_average.desc",
]

CATALOG_SORT_VALUES: set[CatalogSort] = {
    "popularity.asc",
    "popularity.desc",
    "release_date.asc",
    "release_date.desc",
    "title.asc",
    "title.desc",
    "vote_average.asc",
    "vote_average.desc",
}


def check_catalog_sort(value: str) -> CatalogSort:
    if value in CATALOG_SORT_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {CATALOG_SORT_VALUES!r}")
