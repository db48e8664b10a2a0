# lme4 reference values for bayesmixed.inference -> tests/reference/inference_reference.json
# Run from the repository root: Rscript tests/reference/make_inference_reference.R   (lme4 1.1-31, R 4.2)
# Data are read from the package's bundled CSVs so that R and Python fit exactly the same rows.
suppressPackageStartupMessages({library(lme4); library(jsonlite)})

data_dir <- "bayesmixed/datasets/data"
read_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = TRUE)
  for (col in names(d)) if (is.character(d[[col]])) d[[col]] <- factor(d[[col]])
  if (name == "sleepstudy") d$Subject <- factor(d$Subject)
  d
}

interval_table <- function(ci) {
  list(names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
}

confint_cases <- list(
  list(id = "sleep_corr_reml", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", REML = TRUE),
  list(id = "sleep_corr_ml", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", REML = FALSE),
  list(id = "sleep_uncorr_ml", data = "sleepstudy", formula = "Reaction ~ Days + (Days || Subject)", REML = FALSE),
  list(id = "dyestuff_ml", data = "dyestuff", formula = "Yield ~ 1 + (1 | Batch)", REML = FALSE),
  list(id = "dyestuff_reml", data = "dyestuff", formula = "Yield ~ 1 + (1 | Batch)", REML = TRUE),
  list(id = "penicillin_reml", data = "penicillin", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", REML = TRUE),
  list(id = "pastes_ml", data = "pastes", formula = "strength ~ 1 + (1 | batch/cask)", REML = FALSE)
)

out <- list(lme4_version = as.character(packageVersion("lme4")), R_version = R.version.string,
            confint = list(), lrt = list())
for (case in confint_cases) {
  fit <- lmer(as.formula(case$formula), read_data(case$data), REML = case$REML)
  profile_ci <- confint(fit, method = "profile", level = 0.95)
  new_names <- rownames(confint(fit, method = "Wald", oldNames = FALSE))
  wald_ci <- confint(fit, method = "Wald", level = 0.95)
  out$confint[[case$id]] <- c(case, list(
    profile = interval_table(profile_ci), new_names = new_names,
    wald = interval_table(wald_ci[!is.na(wald_ci[, 1]), , drop = FALSE]),
    profile_90 = interval_table(confint(fit, method = "profile", level = 0.90))))
}

# anova's rows come in increasing npar, as lme4 orders them (MODEL1.. are the formulas' positions).
anova_table <- function(...) {
  a <- suppressWarnings(anova(...))
  list(models = rownames(a), npar = unname(a$npar), aic = unname(a$AIC), bic = unname(a$BIC),
       loglik = unname(a$logLik), deviance = unname(a$deviance), chisq = unname(a$Chisq),
       df = unname(a$Df), p = unname(a[["Pr(>Chisq)"]]))
}

lrt_cases <- list(
  list(id = "penicillin_sample", data = "penicillin",
       formulas = c("diameter ~ 1 + (1 | plate)", "diameter ~ 1 + (1 | plate) + (1 | sample)"), refit = TRUE),
  list(id = "pastes_batch", data = "pastes",
       formulas = c("strength ~ 1 + (1 | batch:cask)", "strength ~ 1 + (1 | batch/cask)"), refit = TRUE),
  list(id = "sleep_three", data = "sleepstudy",
       formulas = c("Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (1 | Subject)",
                    "Reaction ~ Days + (Days || Subject)"), refit = TRUE),
  list(id = "sleep_corr_reml_norefit", data = "sleepstudy",
       formulas = c("Reaction ~ Days + (Days || Subject)", "Reaction ~ Days + (Days | Subject)"), refit = FALSE)
)
for (case in lrt_cases) {
  d <- read_data(case$data)
  fits <- lapply(case$formulas, function(f) lmer(as.formula(f), d, REML = TRUE))
  out$lrt[[case$id]] <- c(case, list(anova = do.call(anova_table, c(fits, list(refit = case$refit)))))
}

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/inference_reference.json")
