"""The scale-test shop: replicas of the real retail customers, up to millions, for `campaign bench scale`.

SCALE TEST DATA, derived from real data (:mod:`tools.scale.replicas`): each replica copies a real customer with a
new id, its history shifted in time, its money jittered and its portrait embedding perturbed. The replicas'
portraits go into scale-test Chroma stores (:mod:`tools.scale.store`: batched, resumable, incremental); their
purchase summaries and sparse customer × product matrix are replicated (:mod:`tools.scale.shop`); the real shop's
fitted models answer for replicas as their source customers (:mod:`tools.scale.models`).
"""

from tools.scale.models import ScaleEffect, ScaleRecommend, SourceRanker
from tools.scale.replicas import (
    BLOCK,
    SCALE_LABEL,
    ReplicaBlock,
    SourcePortraits,
    parse_size,
    replica_block,
    replica_id,
    replica_table,
    size_label,
)
from tools.scale.shop import TOP_PRODUCTS, ScaleShop, build_scale_shop
from tools.scale.store import (
    IngestReport,
    collection_megabytes,
    ingest_scale_store,
    open_scale_store,
    scale_settings,
    scale_shop_name,
    store_megabytes,
)

__all__ = [
    "BLOCK",
    "SCALE_LABEL",
    "TOP_PRODUCTS",
    "IngestReport",
    "ReplicaBlock",
    "ScaleEffect",
    "ScaleRecommend",
    "ScaleShop",
    "SourcePortraits",
    "SourceRanker",
    "build_scale_shop",
    "collection_megabytes",
    "ingest_scale_store",
    "open_scale_store",
    "parse_size",
    "replica_block",
    "replica_id",
    "replica_table",
    "scale_settings",
    "scale_shop_name",
    "size_label",
    "store_megabytes",
]
