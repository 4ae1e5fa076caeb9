import {
  type InvocableResponse,
  type PluginRequest,
  TrainableModel,
  type TrainPluginOutput,
} from "@trainable/core";
import { expectTypeOf, test } from "vitest";
import { z } from "zod";
import type { TaggerInput } from "../plugin-types/tagger/tagger-input.js";
import type { TaggerOutput } from "../plugin-types/tagger/tagger-output.js";
import { TrainableTaggerPluginService } from "../plugin-types/tagger/trainable-tagger-plugin-service.js";
import type { PluginRunContext } from "./plugin-run-context.js";

interface Config {
  threshold: number;
}

class Model extends TrainableModel<Config> {
  words: string[] = [];
  async saveToFolder(): Promise<void> {}
  async loadFromFolder(): Promise<void> {}
  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    return { status: { state: "succeeded" } };
  }
}

class OtherModel extends TrainableModel<{ other: string }> {
  async saveToFolder(): Promise<void> {}
  async loadFromFolder(): Promise<void> {}
  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    return {};
  }
}

test("a trainable tagger is typed by its config and model", () => {
  class Tagger extends TrainableTaggerPluginService<Config, Model> {
    configSchema = z.object({ threshold: z.number() });
    modelClass = Model;
    async runWithModel(
      request: PluginRequest<TaggerInput>,
      model: Model,
      context: PluginRunContext<Config>,
    ): Promise<TaggerOutput> {
      expectTypeOf(model.words).toEqualTypeOf<string[]>();
      expectTypeOf(model.config).toEqualTypeOf<Config | undefined>();
      expectTypeOf(context.instance?.config).toEqualTypeOf<Config | undefined>();
      return { file: request.data?.file ?? { blocks: [] } };
    }
  }
  const tagger = new Tagger();
  expectTypeOf(tagger.parseConfig).returns.toEqualTypeOf<Config>();
  expectTypeOf(tagger.createModel).returns.toEqualTypeOf<Model>();
  expectTypeOf(tagger.run).returns.resolves.toEqualTypeOf<TaggerOutput>();
});

test("the model class must build the declared model", () => {
  class Wrong extends TrainableTaggerPluginService<Config, Model> {
    configSchema = z.object({ threshold: z.number() });
    // @ts-expect-error OtherModel is not Model
    modelClass = OtherModel;
    async runWithModel(): Promise<TaggerOutput> {
      return { file: { blocks: [] } };
    }
  }
  expectTypeOf(Wrong).toBeConstructibleWith();
});
