"""Real scikit-learn models, trained on data sets scikit-learn ships, registered in MLflow
with signatures, several versions, stages and aliases: what a registry looks like in use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SampleVersion:
    """One trained version: how to build the estimator, and what to record about it."""

    description: str
    build: Callable[[], Any]
    params: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleModel:
    """A registered model: its data set (``sklearn.datasets.load_<dataset>``) and versions."""

    name: str
    description: str
    dataset: str
    versions: tuple[SampleVersion, ...]
    stages: dict[str, str]
    aliases: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisteredSample:
    """What registering a sample produced: MLflow's model info per version, in order."""

    name: str
    versions: tuple[str, ...]
    model_infos: tuple[Any, ...]


def _logistic_regression(strength: float) -> Callable[[], Any]:
    def build() -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=1000))

    return build


def _decision_tree(depth: int) -> Callable[[], Any]:
    def build() -> Any:
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(max_depth=depth, random_state=0)

    return build


def _random_forest(trees: int) -> Callable[[], Any]:
    def build() -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=trees, max_depth=4, random_state=0)

    return build


def _ridge(alpha: float) -> Callable[[], Any]:
    def build() -> Any:
        from sklearn.linear_model import Ridge

        return Ridge(alpha=alpha)

    return build


def _gradient_boosting(trees: int) -> Callable[[], Any]:
    def build() -> Any:
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(n_estimators=trees, max_depth=2, random_state=0)

    return build


WINE = SampleModel(
    name="wine_quality",
    description="Classifies wines into three cultivars from 13 chemical measurements.",
    dataset="wine",
    tags={"team": "data-science", "task": "classification"},
    versions=(
        SampleVersion(
            "LogisticRegression, C=0.1",
            _logistic_regression(0.1),
            {"C": 0.1},
            {"validation_status": "pending"},
        ),
        SampleVersion(
            "LogisticRegression, C=1.0",
            _logistic_regression(1.0),
            {"C": 1.0},
            {"validation_status": "approved"},
        ),
    ),
    stages={"1": "Staging", "2": "Production"},
    aliases={"champion": "2", "challenger": "1"},
)

IRIS = SampleModel(
    name="iris_species",
    description="Tells the three iris species apart from sepal and petal sizes.",
    dataset="iris",
    tags={"team": "botany", "task": "classification"},
    versions=(
        SampleVersion("LogisticRegression, C=1.0", _logistic_regression(1.0), {"C": 1.0}),
        SampleVersion("DecisionTree, depth 3", _decision_tree(3), {"max_depth": 3}),
        SampleVersion(
            "RandomForest, 50 trees",
            _random_forest(50),
            {"n_estimators": 50},
            {"validation_status": "approved"},
        ),
    ),
    stages={"1": "Archived", "2": "Staging", "3": "Production"},
    aliases={"champion": "3", "challenger": "2"},
)

DIABETES = SampleModel(
    name="diabetes_progression",
    description="Predicts disease progression one year ahead from ten baseline measurements.",
    dataset="diabetes",
    tags={"team": "health", "task": "regression"},
    versions=(
        SampleVersion("Ridge, alpha=1.0", _ridge(1.0), {"alpha": 1.0}),
        SampleVersion("GradientBoosting, 100 trees", _gradient_boosting(100), {"trees": 100}),
    ),
    stages={"1": "Production", "2": "Staging"},
    aliases={"champion": "1", "challenger": "2"},
)

DEMO_SAMPLES = (WINE, IRIS, DIABETES)


def _own_types(model: Any) -> list[str]:
    """The types skops does not trust by default in ``model``: trained just now, in this
    process, so they are trusted for the check MLflow runs after saving it."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def register_sample(client: Any, sample: SampleModel) -> RegisteredSample:
    """Train each version, log it with its signature, register it, then set stages/aliases.

    ``client`` is an ``mlflow.MlflowClient`` whose tracking URI is also mlflow's current one.
    """
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from sklearn import datasets

    features, target = getattr(datasets, f"load_{sample.dataset}")(return_X_y=True, as_frame=True)
    requirements = [f"scikit-learn=={sklearn.__version__}"]
    mlflow.set_experiment(sample.name)
    client.create_registered_model(sample.name, tags=sample.tags, description=sample.description)
    infos = []
    versions = []
    for spec in sample.versions:
        model = spec.build().fit(features, target)
        with mlflow.start_run(run_name=spec.description) as run:
            mlflow.log_params(spec.params)
            mlflow.log_metric("train_score", float(model.score(features, target)))
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(features, model.predict(features)),
                input_example=features.head(3),
                pip_requirements=requirements,
                skops_trusted_types=_own_types(model),
            )
        version = client.create_model_version(
            sample.name,
            info.model_uri,
            run_id=run.info.run_id,
            model_id=info.model_id,
            description=spec.description,
            tags=spec.tags,
        )
        infos.append(info)
        versions.append(str(version.version))
    for version, stage in sample.stages.items():
        client.transition_model_version_stage(sample.name, version, stage)
    for alias, version in sample.aliases.items():
        client.set_registered_model_alias(sample.name, alias, version)
    return RegisteredSample(sample.name, tuple(versions), tuple(infos))
