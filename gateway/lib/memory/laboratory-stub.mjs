// Stands in for @graphql-hive/render-laboratory while GraphiQL is off (see without-laboratory.mjs).
export const renderLaboratory = () => '<!doctype html><title>GraphiQL is off</title><p>GraphiQL is off on this gateway.</p>';
